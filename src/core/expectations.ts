/**
 * The expectations file (kvmdoctor.yaml): what must hold before a deploy.
 * Each violation becomes a finding of an expect-* rule.
 */
import type {z as Z} from 'zod'
import {EXPECTATION_RULES} from '../../rules/expectations.js'
import type {RuleDefinition} from '../../rules/types.js'
import {loadYamlFile} from './config-file.js'
import {cidrContains, parseCidr} from '../lib/ipv4.js'
import type {EntityView, Model} from '../derive/index.js'

/** The file's schema, built when there is a file to read: zod loads only then. */
function expectationsSchema(z: typeof Z) {
  const cidr = z.string().refine((s) => parseCidr(s) !== undefined && s.includes('/'), 'subnet must be an IPv4 prefix like 192.168.122.0/24')
  return z.strictObject({
    networks: z
      .array(
        z.strictObject({
          name: z.string().min(1),
          active: z.boolean().default(true),
          autostart: z.boolean().optional(),
          minFreeLeases: z.number().int().nonnegative().optional(),
        }),
      )
      .default([]),
    guests: z.array(z.strictObject({name: z.string().min(1), subnet: cidr})).default([]),
    forwarding: z.boolean().optional(),
  })
}

export type Expectations = Z.infer<ReturnType<typeof expectationsSchema>>

export async function loadExpectations(path: string): Promise<Expectations> {
  return loadYamlFile(path, expectationsSchema((await import('zod')).z), 'expectations file')
}

const ruleById = new Map(EXPECTATION_RULES.map((r) => [r.id, r]))

export interface ExpectationCheck {
  rule: RuleDefinition
  entity: EntityView
  violated: boolean
}

/** Every expectation checked against the model, violated or not (JUnit lists both). */
export function checkExpectations(model: Model, spec: Expectations): ExpectationCheck[] {
  const checks: ExpectationCheck[] = []
  const check = (id: string, entity: EntityView, violated: boolean) => checks.push({rule: ruleById.get(id)!, entity, violated})
  const host = model.entities.host[0]
  const networks = new Map(model.entities.network.map((n) => [n.name, n]))
  const domains = new Map(model.entities.domain.map((d) => [d.name, d]))
  const missing = (kind: EntityView['kind'], name: string): EntityView => ({kind, name, context: {host: host.name, [kind === 'network' ? 'network' : 'domain']: name}, affectedGuests: 0, state: 'not defined'})
  for (const want of spec.networks) {
    const n = networks.get(want.name)
    const view = n ? {...n, state: n.active ? 'active' : 'inactive'} : missing('network', want.name)
    if (want.active) check('expect-network-active', view, !n?.active)
    if (want.autostart) check('expect-network-autostart', view, n !== undefined && n.autostart !== true)
    if (want.minFreeLeases !== undefined && n) {
      const free = (n.dhcpRangeSize as number) - (n.leasesInRange as number)
      check('expect-dhcp-free-leases', {...view, free, min: want.minFreeLeases}, free < want.minFreeLeases)
    }
  }
  for (const want of spec.guests) {
    const d = domains.get(want.name)
    const subnet = parseCidr(want.subnet)!
    const addresses = (d?.addresses as string[] | undefined) ?? []
    const view = d ? {...d} : missing('domain', want.name)
    check('expect-guest-address', {...view, subnet: want.subnet, addressesText: addresses.length > 0 ? addresses.join(', ') : 'none'}, !addresses.some((a) => cidrContains(subnet, a)))
  }
  if (spec.forwarding) check('expect-forwarding', host, host.ipForward !== 1)
  return checks
}
