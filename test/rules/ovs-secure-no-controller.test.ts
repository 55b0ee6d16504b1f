/** An Open vSwitch rule on an OVS host (bridged-healthy's LAN guest on a real OVS state: ./ovs-host.ts). */
import {describe, expect, it} from 'vitest'
import secureNoController from '../../rules/ovs-secure-no-controller.js'
import {parseFlows} from '../../probes/ovs.js'
import {fire, fireAll} from '../helpers.js'
import {ovsHost} from './ovs-host.js'

describe('ovs-secure-no-controller', () => {
  const secure = (flows: string) =>
    ovsHost((ovs) => {
      const br = ovs.bridges.find((b) => b.name === 'kdlab-br0')!
      const sec = ovs.bridges.find((b) => b.name === 'br-sec')!
      Object.assign(br, {failMode: 'secure', controllers: sec.controllers, flows: parseFlows(flows)})
    })
  it('fires for a secure bridge with guests, its controller not connected and only the drop flow left (br-sec\'s recorded state)', async () => {
    const facts = await secure(' cookie=0x0, duration=17.093s, table=0, n_packets=0, n_bytes=0, reset_counts priority=10,in_port=LOCAL actions=drop\n')
    const {names, evaluation} = await fire(secureNoController, facts)
    expect(names).toEqual(['kdlab-br0'])
    expect(evaluation.findings[0].evidence.join('\n')).toContain('tcp:192.0.2.10:6653: BACKOFF (Network is unreachable)')
    // The table miss in every guest flow is this finding's, not a general one.
    const {ids} = await fireAll(facts)
    expect(ids).not.toContain('guest-flow-blocked')
    expect(ids).not.toContain('ovs-flow-drop')
  })
  it("fires when the flows left forward only ARP (the guests' IPv4 falls to the table miss): the root cause, with its note, not a generic blocked flow", async () => {
    const facts = await secure(' cookie=0x0, duration=30.807s, table=0, n_packets=34, n_bytes=3976, idle_age=1, priority=100,arp actions=NORMAL\n')
    const {names, evaluation} = await fire(secureNoController, facts)
    expect(names).toEqual(['kdlab-br0'])
    const [f] = evaluation.findings
    expect(f.title).toContain("no flow forwards a guest's IPv4 frames")
    expect(f.evidence).toContain('forwards only other traffic: cookie=0x0, duration=30.807s, table=0, n_packets=34, n_bytes=3976, idle_age=1, priority=100,arp actions=NORMAL')
    expect((f.note ?? []).join('\n')).toMatch(/restore the controller/)
    const all = (await fireAll(facts)).evaluation.findings
    expect(all.find((x) => x.id === 'ovs-secure-no-controller')?.rank).toBe(1)
    expect(all.filter((x) => x.id === 'guest-flow-blocked' && !x.explainedBy)).toEqual([])
  })
  it('stays silent where a flow decides the guests\' IPv4 itself: a drop flow (ovs-flow-drop\'s), or a match kvmdoctor does not evaluate (undecided, not blamed)', async () => {
    const dropped = await secure(' priority=100,arp actions=NORMAL\n priority=50,ip actions=drop\n')
    expect((await fire(secureNoController, dropped)).names).toEqual([])
    const undecided = await secure(' priority=100,arp actions=NORMAL\n priority=50,ip,reg0=0x1 actions=NORMAL\n')
    const {names} = await fire(secureNoController, undecided)
    expect(names).toEqual([])
  })
  it('stays silent in standalone mode, with flows that forward, and for a secure bridge without guests', async () => {
    expect((await fire(secureNoController, await ovsHost())).names).toEqual([])
    expect((await fire(secureNoController, await secure(' priority=0 actions=NORMAL\n'))).names).toEqual([])
    // br-sec itself is secure and controller-less, but no running guest is on it.
    expect((await fire(secureNoController, await ovsHost())).evaluation.findings).toEqual([])
  })
})
