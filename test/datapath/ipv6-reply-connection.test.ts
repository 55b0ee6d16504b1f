/**
 * An IPv6 reply arrives in its request's connection as an IPv4 one does: with the connection mark the request's path
 * set (CONNMARK), and in its zone. The routed IPv6 reply used to arrive with neither, so a forward rule passing only
 * marked connections' packets "dropped" every reply: ipv6-forward-drop on a host whose guests reach the internet.
 */
import {describe, expect, it} from 'vitest'
import {diagnose} from '../../src/core/diagnose.js'
import type {CommandCapture} from '../../src/lib/runner.js'
import {alteredFixture} from '../hostile/helpers.js'

/**
 * The ipv6-forward-drop recording with its FORWARD drop replaced by one of packets to the guests whose connection is
 * not marked 0x6 (a counting rule before it keeps iptables-save's rules, which nft's listing no longer matches), and
 * the mark set on connections from MARKED in mangle POSTROUTING.
 */
function connmarked(marked: string) {
  return (c: CommandCapture): CommandCapture => {
    if (c.argv[0] !== 'ip6tables-save') return c
    return {
      ...c,
      output: c.output
        .replace('[0:0] -A FORWARD -i virbr0 -j DROP\n', '[0:0] -A FORWARD -o virbr0 -m connmark --mark 0x6\n[0:0] -A FORWARD -o virbr0 -m connmark ! --mark 0x6 -j DROP\n')
        .replace('[565:39168] -A POSTROUTING -j LIBVIRT_PRT\n', `[565:39168] -A POSTROUTING -j LIBVIRT_PRT\n[0:0] -A POSTROUTING -s ${marked} -j CONNMARK --set-xmark 0x6/0xffffffff\n`),
    }
  }
}

async function run(change: (c: CommandCapture) => CommandCapture) {
  const {runner, options} = await alteredFixture('ipv6-forward-drop', {run: change})
  const d = await diagnose({runner, options, version: 'test', now: new Date('2026-12-07T00:00:00Z')})
  return {d, out: d.flows.find((f) => f.kind === 'egress6')!, back: d.flows.find((f) => f.kind === 'egress6-reply')!}
}

describe("an IPv6 reply in its request's connection", () => {
  it("the guests' connections marked: the reply passes the forward rule; only the upstream's return route stays undecided", async () => {
    const {d, out, back} = await run(connmarked('2001:db8:ca2:2::/64'))
    expect([out.verdict, back.verdict, back.decidedBy?.name]).toEqual(['pass', 'indeterminate', 'return route'])
    expect(back.hops.find((h) => h.name === 'netfilter forward')?.verdict).toBe('pass')
    expect(d.findings.map((f) => f.id)).not.toContain('ipv6-forward-drop')
  })

  it('must still fail: connections marked for another prefix, so the guests\' replies are dropped', async () => {
    const {d, out, back} = await run(connmarked('2001:db8:ffff::/64'))
    expect([out.verdict, back.verdict, back.decidedBy?.name]).toEqual(['pass', 'fail', 'netfilter forward'])
    expect(d.findings.map((f) => f.id)).toContain('ipv6-forward-drop')
  })
})
