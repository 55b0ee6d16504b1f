import {describe, expect, it} from 'vitest'
import type {Listener} from '../../probes/listeners.js'
import rule from '../../rules/dns-port-conflict.js'
import {alter, factsOf, fire, unavailable} from '../helpers.js'
import {fixHostOf, judgeFixSteps} from '../../src/core/fix-safety.js'
import {renderSteps} from '../../src/lib/fix.js'

/** The healthy lab host (network default running, kdlab-web01 on it) with another process listening on 0.0.0.0:53. */
const heldBy = async (holder: Partial<Listener>) => alter<Listener[]>(await factsOf('healthy'), 'listeners', (listeners) => void listeners.push({proto: 'udp', address: '0.0.0.0', port: 53, ...holder}))

describe('dns-port-conflict', () => {
  it('fires when another dnsmasq holds 0.0.0.0:53 and the network could not start (lab)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('dns-port-conflict'))
    expect(names).toEqual(['default'])
    expect(evaluation.findings[0].evidence[0]).toMatch(/dnsmasq \(pid \d+\) on udp 0\.0\.0\.0:53/)
  })
  it("stays silent for libvirt's own dnsmasq (healthy lab)", async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it('ignores systemd-resolved on 127.0.0.53 and listeners scoped to another interface', async () => {
    const facts = alter<Listener[]>(await factsOf('healthy'), 'listeners', (listeners) => {
      listeners.push({proto: 'udp', address: '127.0.0.53', iface: 'lo', port: 53, process: 'systemd-resolve', pid: 400})
      listeners.push({proto: 'udp', address: '0.0.0.0', iface: 'lan0', port: 67, process: 'dnsmasq', pid: 401})
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('on a running network, the restart names the guests it cuts off and puts their taps back, as every restart does (fix --yes takes it)', async () => {
    const facts = await heldBy({process: 'dnsmasq', pid: 401})
    const {evaluation} = await fire(rule, facts)
    const [finding] = evaluation.findings
    expect(renderSteps(finding.fixSteps)).toEqual([
      'kill 401',
      'timeout 10 tail --pid=401 -f /dev/null',
      '# disrupts running guests kdlab-web01 until the steps below re-attach them',
      'virsh net-destroy default',
      'virsh net-start default',
      expect.stringMatching(/^ip link set vnet\d+ master virbr0 up$/),
    ])
    expect(judgeFixSteps(finding, fixHostOf(facts.results))).toEqual([])
  })
  it('prints no steps where a kill cannot free the port (init holds it for a socket unit; ss named no process): the network restarted would fail again, its guests on no bridge', async () => {
    for (const holder of [{process: 'systemd', pid: 1}, {}]) {
      const {evaluation} = await fire(rule, await heldBy(holder))
      expect(evaluation.findings.map((f) => f.fixSteps)).toEqual([[]])
      expect(evaluation.findings[0].note).toContainEqual(expect.stringMatching(holder.pid === 1 ? /socket unit/ : /could not name the process/))
    }
  })
  // Regression (#16): the ss error used to be dropped, leaving "the facts it needs were not collected".
  it('is not checked when ss failed, and says why with the error ss gave', async () => {
    const facts = unavailable(await factsOf('dns-port-conflict'), 'listeners', 'ss -H -lunpt: exit status 1: Cannot open netlink socket: Permission denied')
    const {names, evaluation} = await fire(rule, facts)
    expect(names).toEqual([])
    expect(evaluation.notChecked).toHaveLength(1)
    expect(evaluation.notChecked[0].reason).toMatch(/listeners unavailable: ss -H -lunpt: exit status 1: Cannot open netlink socket/)
  })
})
