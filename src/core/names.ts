/** The names a user can give commands (guests, networks, bridges), from libvirt's facts: for "did you mean". */
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {KnownName} from '../lib/suggest.js'

export function knownNames(libvirt: LibvirtFacts): KnownName[] {
  const guestsOn = new Map<string, Set<string>>()
  const on = (key: string, guest: string) => (guestsOn.get(key) ?? guestsOn.set(key, new Set()).get(key)!).add(guest)
  for (const d of libvirt.domains) {
    for (const i of d.interfaces) {
      if (i.type === 'network' && i.source) on(`network:${i.source}`, d.name)
      const bridge = i.bridge ?? (i.type === 'bridge' ? i.source : undefined) ?? (i.type === 'network' ? libvirt.networks.find((n) => n.name === i.source)?.bridge : undefined)
      if (bridge) on(`bridge:${bridge}`, d.name)
    }
  }
  const guests = (key: string) => [...(guestsOn.get(key) ?? [])]
  const bridges = new Set([...libvirt.networks.flatMap((n) => (n.bridge ? [n.bridge] : [])), ...[...guestsOn.keys()].filter((k) => k.startsWith('bridge:')).map((k) => k.slice('bridge:'.length))])
  return [
    ...libvirt.domains.map((d) => ({kind: 'guest' as const, name: d.name})),
    ...libvirt.networks.map((n) => ({kind: 'network' as const, name: n.name, guests: guests(`network:${n.name}`)})),
    ...[...bridges].map((b) => ({kind: 'bridge' as const, name: b, guests: guests(`bridge:${b}`)})),
  ]
}
