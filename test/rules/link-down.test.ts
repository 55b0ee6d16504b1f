import {describe, expect, it} from 'vitest'
import type {Link} from '../../probes/links.js'
import rule from '../../rules/link-down.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('link-down', () => {
  it("fires when the active network's bridge is down (lab: ip link set virbr0 down)", async () => {
    const {names, evaluation} = await fire(rule, await factsOf('bridge-down'))
    expect(names).toEqual(['virbr0'])
    expect(evaluation.findings[0].fix[0]).toBe('ip link set virbr0 up')
  })
  it('stays silent on the healthy host, where taps report UNKNOWN and ifb devices are down', async () => {
    const facts = await factsOf('healthy')
    const links = facts.results.links
    expect(links.ok && (links.data as Link[]).some((l) => l.kind === 'tap' && l.operstate === 'UNKNOWN')).toBe(true)
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('stays silent for an empty bridge reporting NO-CARRIER', async () => {
    const facts = alter<Link[]>(await factsOf('healthy'), 'links', (links) => {
      const br = links.find((l) => l.name === 'virbr0')!
      Object.assign(br, {lowerUp: false, noCarrier: true, operstate: 'DOWN'})
      links.splice(0, links.length, ...links.filter((l) => l.master !== 'virbr0'))
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('stays silent while bridge ports are still in STP listening/learning', async () => {
    const facts = alter<Link[]>(await factsOf('healthy'), 'links', (links) => {
      Object.assign(links.find((l) => l.name === 'virbr0')!, {lowerUp: false, noCarrier: true, operstate: 'DOWN'})
      links.filter((l) => l.master === 'virbr0').forEach((l) => (l.portState = 'learning'))
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it("fires when the default route's device has lost carrier", async () => {
    const facts = alter<Link[]>(await factsOf('healthy'), 'links', (links) => {
      Object.assign(links.find((l) => l.name === 'eth0')!, {lowerUp: false, noCarrier: true, operstate: 'DOWN'})
    })
    expect((await fire(rule, facts)).names).toEqual(['eth0'])
    // Set up already: "ip link set eth0 up" would change nothing; the note says where to look.
    const [f] = (await fire(rule, facts)).evaluation.findings
    expect(f.fix).toEqual([])
    expect(f.note?.join('\n')).toMatch(/cable/)
  })
  it('fixes a link set down by setting it up', async () => {
    const facts = alter<Link[]>(await factsOf('healthy'), 'links', (links) => {
      Object.assign(links.find((l) => l.name === 'eth0')!, {up: false, lowerUp: false, operstate: 'DOWN', flags: ['BROADCAST', 'MULTICAST']})
    })
    expect((await fire(rule, facts)).evaluation.findings.map((f) => f.fix)).toEqual([['ip link set eth0 up']])
  })
})
