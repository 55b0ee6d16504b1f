/** Section G's shaping rules, on the lab's recording of a guest tap shaped by a tbf (tc-tap-tbf-burst). */
import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {TcFacts} from '../../probes/tc.js'
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
  it('names what an htb leaf can reach, the smallest ceil on its way up (OVS\'s linux-htb QoS: a 12 kbit/s leaf under 512 kbit/s)', async () => {
    const facts = await factsOf('tc-tap-tbf-burst')
    const tap = tapOf(facts)
    const shaped = alter<TcFacts>(facts, 'tc', (tc) => {
      tc.qdiscs = [...tc.qdiscs.filter((q) => q.dev !== tap), {dev: tap, kind: 'htb', handle: '1:', parent: 'root', options: {default: '0x1'}}]
      tc.classes = [
        ...tc.classes.filter((c) => c.dev !== tap),
        {dev: tap, kind: 'htb', classid: '1:fffe', parent: 'root', rate: 512_000, ceil: 512_000},
        {dev: tap, kind: 'htb', classid: '1:1', parent: '1:fffe', rate: 12_000, ceil: 1_000_000},
      ]
    })
    const {evaluation} = await fire(bandwidthLimited, shaped)
    expect(evaluation.findings[0].title).toContain(`tc htb class 1:1 on ${tap} (to guest): 512 kbit/s`)
  })
  it('stays silent for unshaped guests and for shut-off ones', async () => {
    expect((await fire(bandwidthLimited, await factsOf('healthy'))).names).toEqual([])
    const off = alter<LibvirtFacts>(await factsOf('tc-tap-tbf-burst'), 'libvirt', (l) => (l.domains[0].state = 'shut off'))
    expect((await fire(bandwidthLimited, off)).names).toEqual([])
  })
})
