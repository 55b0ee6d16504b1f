import {describe, expect, it} from 'vitest'
import type {Link} from '../../probes/links.js'
import rule from '../../rules/mtu-mismatch.js'
import {renderStep} from '../../src/lib/fix.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('mtu-mismatch', () => {
  it('fires when a 1400 port sits beside 1500 taps on virbr0 (lab)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('mtu-mismatch'))
    expect(names).toEqual(['virbr0'])
    expect(evaluation.findings[0].evidence[0]).toContain('kdlab-mtu0 1400')
  })
  it('fires when the uplink has a larger MTU than the bridge', async () => {
    const facts = alter<Link[]>(await factsOf('mtu-mismatch'), 'links', (links) => {
      links.find((l) => l.name === 'kdlab-mtu0')!.mtu = 9000
      links.find((l) => l.name === 'virbr0')!.mtu = 1500
      links.filter((l) => l.master === 'virbr0' && l.kind === 'tap').forEach((l) => (l.mtu = 1500))
    })
    expect((await fire(rule, facts)).names).toEqual(['virbr0'])
  })
  it("raises the veth that dragged the bridge below the guests (its peer takes 1500), never the guest's tap; applied, the mismatch is gone", async () => {
    const facts = await factsOf('mtu-mismatch')
    const found = (await fire(rule, facts)).evaluation.findings[0]
    const printed = found.fixSteps.map(renderStep)
    expect(printed).toEqual(['ip link set kdlab-mtu0 mtu 1500', 'ip link set virbr0 mtu 1500'])
    expect(printed.join('\n')).not.toMatch(/vnet0/)
    const fixed = alter<Link[]>(facts, 'links', (links) => {
      for (const line of printed) links.find((l) => l.name === line.split(' ')[3])!.mtu = Number(line.split(' ')[5])
    })
    expect((await fire(rule, fixed)).names).toEqual([])
  })
  it("names the guests' change instead when the small port is an uplink (its MTU is the wire's) or its peer is as small", async () => {
    const uplink = alter<Link[]>(await factsOf('mtu-mismatch'), 'links', (links) => delete links.find((l) => l.name === 'kdlab-mtu0')!.peer)
    const found = (await fire(rule, uplink)).evaluation.findings[0]
    expect(found.fixSteps).toEqual([])
    expect(found.note!.join('\n')).toContain("<mtu size='1400'/>")
    const smallPeer = alter<Link[]>(await factsOf('mtu-mismatch'), 'links', (links) => (links.find((l) => l.name === 'kdlab-mtu1')!.mtu = 1400))
    expect((await fire(rule, smallPeer)).evaluation.findings[0].fixSteps).toEqual([])
  })
  it('stays silent when all ports agree (healthy lab)', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
})
