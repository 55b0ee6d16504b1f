/**
 * Names for an entity that outlive a guest restart, for the outputs whose
 * consumers key on them across runs (SARIF fingerprints and locations,
 * Prometheus labels). Tap names (vnet48) and guest addresses change every time
 * a guest starts; a domain and its MAC, a network and a bridge do not.
 */
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {EntityContext, EntityKind} from './types.js'

export interface GuestNic {
  domain: string
  mac: string
}

/** Each guest tap libvirt names, with the domain and MAC it belongs to. */
export function guestTaps(libvirt: LibvirtFacts | undefined): Map<string, GuestNic> {
  const taps = new Map<string, GuestNic>()
  for (const dom of libvirt?.domains ?? []) {
    for (const i of dom.interfaces) if (i.target && i.mac) taps.set(i.target, {domain: dom.name, mac: i.mac})
  }
  return taps
}

const nic = (n: GuestNic) => `${n.domain}/${n.mac}`

/** Guest tap names in a text replaced by DOMAIN/MAC (element texts name the taps they are on). */
function withoutTaps(text: string, taps: Map<string, GuestNic>): string {
  if (taps.size === 0) return text
  const names = [...taps.keys()].sort((a, b) => b.length - a.length).map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  return text.replace(new RegExp(`(?<![\\w.-])(${names.join('|')})(?![\\w.-])`, 'g'), (tap) => nic(taps.get(tap)!))
}

/**
 * The entity's name with what churns replaced: an interface is DOMAIN/MAC, an
 * APIPA sighting the guest (or host device) and MAC, an address conflict the
 * network and the lease's MAC; guest taps anywhere become DOMAIN/MAC.
 */
export function stableName(entity: {kind: EntityKind; name: string}, context: EntityContext | undefined, taps: Map<string, GuestNic>): string {
  const c = context ?? {}
  const [first, second] = entity.name.split('/', 2)
  switch (entity.kind) {
    case 'interface':
      return `${c.domain ?? first}/${c.mac ?? taps.get(second ?? '')?.mac ?? second ?? 'unknown'}`
    case 'apipa':
      return `${c.domain ?? c.link ?? c.bridge ?? 'host'}/${c.mac ?? 'unknown'}`
    case 'address':
      return `${c.network ?? c.bridge ?? 'unknown'}/${c.mac ?? 'unknown'}`
    default:
      return withoutTaps(entity.name, taps)
  }
}
