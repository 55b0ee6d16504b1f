/** Section G's shaping rules, on the lab's recording of a guest tap shaped by a tbf (tc-tap-tbf-burst). */
import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import bandwidthLimited from '../../rules/guest-bandwidth-limited.js'
import {alter, factsOf, fire} from '../helpers.js'

const tapOf = (facts: Awaited<ReturnType<typeof factsOf>>) => (facts.results.libvirt as {data: LibvirtFacts}).data.domains[0].interfaces[0].target!

describe('guest-bandwidth-limited', () => {
  it('fires, naming the tbf rate on the guest\'s tap (recorded: 10 Mbit/s, burst 1000 bytes)', async () => {
    const facts = await factsOf('tc-tap-tbf-burst')
    const {names, evaluation} = await fire(bandwidthLimited, facts)
    expect(names).toEqual([`kdlab-web01/${tapOf(facts)}`])
    expect(evaluation.findings[0].title).toMatch(/tc tbf qdisc [0-9a-f]+: on vnet\d+ \(to guest\): 10 Mbit\/s, burst 1000 bytes/)
  })
  it('fires, naming libvirt\'s <bandwidth> in people\'s units (kilobytes per second)', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => (l.domains[0].interfaces[0].bandwidth = {inbound: {average: 1000, peak: 2000, burst: 256}, outbound: {average: 125}}))
    const {evaluation} = await fire(bandwidthLimited, facts)
    expect(evaluation.findings[0].summary).toContain('libvirt <bandwidth> inbound (what it receives): average 8 Mbit/s, peak 16 Mbit/s, burst 256 KiB; libvirt <bandwidth> outbound (what it sends): average 1 Mbit/s')
  })
  it('stays silent for unshaped guests and for shut-off ones', async () => {
    expect((await fire(bandwidthLimited, await factsOf('healthy'))).names).toEqual([])
    const off = alter<LibvirtFacts>(await factsOf('tc-tap-tbf-burst'), 'libvirt', (l) => (l.domains[0].state = 'shut off'))
    expect((await fire(bandwidthLimited, off)).names).toEqual([])
  })
})
