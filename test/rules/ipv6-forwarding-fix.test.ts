/**
 * IPv6 forwarding off where the guests' IPv6 leaves: on a host that forwards IPv6 per device (net.ipv6.conf.all.forwarding
 * = 0, some device's force_forwarding = 1, Linux 6.17 on), the fix sets the arriving device's own force_forwarding;
 * all.forwarding = 1 would make every device a router, the uplink to the world included (red16's note 7).
 */
import {describe, expect, it} from 'vitest'
import type {SysctlFacts} from '../../probes/sysctl.js'
import {alter, factsOf, fireAll} from '../helpers.js'

async function withForwarding(values: Record<string, number>) {
  return alter<SysctlFacts>(await factsOf('ipv6-forward-drop'), 'sysctl', (s) => Object.assign(s.values, values))
}
const forwardingFindings = async (values: Record<string, number>) =>
  (await fireAll(await withForwarding(values))).evaluation.findings.filter((f) => f.evidence.some((e) => e.includes('egress6')) && /forwarding/.test(f.entity.name)).map((f) => [f.id, f.entity.name, f.fix])

describe('IPv6 forwarding off: the fix', () => {
  it("per-device host (the uplink's force_forwarding on): virbr0's own key, never all.forwarding", async () => {
    const found = await forwardingFindings({'net.ipv6.conf.all.forwarding': 0, 'net.ipv6.conf.virbr0.force_forwarding': 0, 'net.ipv6.conf.kdlab-up0.force_forwarding': 1})
    expect(found).toEqual([['guest-flow-blocked', 'net.ipv6.conf.virbr0.force_forwarding = 0', ['sysctl -w net.ipv6.conf.virbr0.force_forwarding=1']]])
  })
  it('a host with no device forwarding on its own: all.forwarding, as libvirt sets it', async () => {
    const found = await forwardingFindings({'net.ipv6.conf.all.forwarding': 0, 'net.ipv6.conf.virbr0.force_forwarding': 0, 'net.ipv6.conf.kdlab-up0.force_forwarding': 0})
    expect(found.map(([, name, fix]) => [name, fix])).toEqual([['net.ipv6.conf.all.forwarding = 0', ['sysctl -w net.ipv6.conf.all.forwarding=1']]])
  })
})
