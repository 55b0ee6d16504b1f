/**
 * A NAT network's IPv6 is routed by libvirt unless `<nat ipv6='yes'/>` asks it to masquerade that too (NAT66). The
 * IPv6 egress used to take every reply as routed: a return route the upstream must hold (the routed network's medium
 * finding on a network that routes nothing), and a lost IPv6 MASQUERADE was never a failure. Now the reply follows the
 * translation the postrouting walk made, back through conntrack, and a NAT66 network whose source is not translated
 * fails as IPv4's does.
 */
import {describe, expect, it} from 'vitest'
import {diagnose} from '../../src/core/diagnose.js'
import type {CommandCapture} from '../../src/lib/runner.js'
import {renderSteps} from '../../src/lib/fix.js'
import {alteredFixture} from '../hostile/helpers.js'

const MASQUERADE = '[0:0] -A LIBVIRT_PRT -s 2001:db8:ca2:2::/64 ! -d 2001:db8:ca2:2::/64 -j MASQUERADE\n'

/** The ipv6-forward-drop recording with its FORWARD drop taken out (IPv6 forwarded again), NAT66 asked for or not, and RULES in LIBVIRT_PRT. */
function nat66(natIpv6: boolean, rules: string) {
  return (c: CommandCapture): CommandCapture => {
    if (c.argv[0] === 'ip6tables-save') return {...c, output: c.output.replace('[0:0] -A FORWARD -i virbr0 -j DROP\n', '').replace('[0:0] -A POSTROUTING -j LIBVIRT_PRT\n', `[0:0] -A POSTROUTING -j LIBVIRT_PRT\n${rules}`)}
    if (natIpv6 && c.argv.includes('net-dumpxml')) return {...c, output: c.output.replace('<nat>', "<nat ipv6='yes'>")}
    return c
  }
}

async function run(change: (c: CommandCapture) => CommandCapture) {
  const {runner, options} = await alteredFixture('ipv6-forward-drop', {run: change})
  const d = await diagnose({runner, options, version: 'test', now: new Date('2026-12-07T00:00:00Z')})
  return {d, out: d.flows.find((f) => f.kind === 'egress6')!, back: d.flows.find((f) => f.kind === 'egress6-reply')}
}

describe("IPv6 NAT of a libvirt network (<nat ipv6='yes'/>)", () => {
  it('masqueraded: the reply comes back to the host address through conntrack, no return route asked of the upstream', async () => {
    const {d, out, back} = await run(nat66(true, MASQUERADE))
    expect([out.verdict, out.hops.find((h) => h.name === 'NAT')?.verdict, back?.verdict]).toEqual(['pass', 'pass', 'pass'])
    expect(back?.hops.some((h) => h.name === 'return route')).toBe(false)
    expect(d.findings.map((f) => f.id)).not.toContain('routed-network-no-return-route')
  })
  it('NAT66 asked for but its MASQUERADE lost: the egress fails at the NAT, one finding naming the IPv6 subnet', async () => {
    const {d, out, back} = await run(nat66(true, ''))
    expect([out.verdict, out.decidedBy?.name, out.decidedBy?.element?.kind, out.decidedBy?.element?.text]).toEqual(['fail', 'NAT', 'nf-nat-missing', 'no MASQUERADE/SNAT for 2001:db8:ca2:2::1/64 on the nat postrouting path'])
    expect(back).toBeUndefined()
    expect(d.findings.filter((f) => f.severity === 'critical').map((f) => f.entity.name)).toEqual([expect.stringContaining('2001:db8:ca2:2::1/64')])
  })
  it("the fix, and the trace's undo, restart the network daemon the host runs: virtnetworkd under the modular daemons, never a libvirtd beside them", async () => {
    const modular = (c: CommandCapture): CommandCapture => nat66(true, '')(c.argv[0] === 'ps' ? {...c, output: c.output.replaceAll('libvirtd -d', '/usr/sbin/virtnetworkd --timeout 120')} : c)
    for (const [change, daemon] of [[nat66(true, ''), 'libvirtd'], [modular, 'virtnetworkd']] as const) {
      const {d, out} = await run(change)
      const blocked = d.findings.find((f) => f.id === 'guest-flow-blocked')!
      expect([daemon, renderSteps(blocked.fixSteps), (out.decidedBy?.element as {undo?: string[]} | undefined)?.undo]).toEqual([daemon, [`systemctl restart ${daemon}`], [`systemctl restart ${daemon}`]])
    }
  })
  it('must not change: a NAT network without ipv6=yes routes its IPv6 (the upstream decides the reply), as recorded', async () => {
    const {d, out, back} = await run(nat66(false, ''))
    expect([out.verdict, out.hops.some((h) => h.name === 'NAT'), back?.verdict, back?.decidedBy?.name]).toEqual(['pass', false, 'indeterminate', 'return route'])
    // Said of the IPv6 a NAT network routes, not of a "routed network".
    expect(d.findings.find((f) => f.id === 'routed-network-no-return-route')?.title).toBe('IPv6 replies to the NAT network default depend on a route the host cannot see')
  })
})
