/** Section G's shaping rules, on the lab's recording of a guest tap shaped by a tbf (tc-tap-tbf-burst). */
import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import {type TcFacts, qdiscKey} from '../../probes/tc.js'
import policerDrops from '../../rules/tc-policer-drops.js'
import {alter, factsOf, fire, fireAll, unavailable} from '../helpers.js'

const tapOf = (facts: Awaited<ReturnType<typeof factsOf>>) => (facts.results.libvirt as {data: LibvirtFacts}).data.domains[0].interfaces[0].target!

describe('tc-policer-drops', () => {
  it('fires when the tap\'s qdisc drops grew between the two reads, removing the hand-written qdisc', async () => {
    const recorded = await factsOf('tc-tap-tbf-burst')
    const tap = tapOf(recorded)
    const facts = alter<TcFacts>(recorded, 'tc', (tc) => {
      const q = tc.qdiscs.find((x) => x.dev === tap && x.kind === 'tbf')!
      tc.dropsLater[`${tap} ${q.handle}`] = q.stats!.drops + 5
    })
    const {names, evaluation} = await fire(policerDrops, facts)
    expect(names).toEqual([`kdlab-web01/${tap}`])
    expect(evaluation.findings[0].title).toMatch(/tbf [0-9a-f]+: \+5/)
    expect(evaluation.findings[0].fix).toEqual([`tc qdisc del dev ${tap} root`])
    // A limit libvirt sets is the admin's: raised through libvirt (a note), not deleted.
    const libvirtOwned = alter<LibvirtFacts>(facts, 'libvirt', (l) => (l.domains[0].interfaces[0].bandwidth = {inbound: {average: 1250}}))
    expect((await fire(policerDrops, libvirtOwned)).evaluation.findings[0].fix).toEqual([])
  })
  it("a hand-written ingress policer dropping (no libvirt <bandwidth>): its police-only filter removed, and no virsh domiftune told for a limit libvirt did not set; a harmless one (drops not growing) is no fault", async () => {
    const recorded = await factsOf('tc-tap-tbf-burst')
    const tap = tapOf(recorded)
    const policed = (grown: boolean, actions: TcFacts['filters'][number]['actions']) =>
      alter<TcFacts>(recorded, 'tc', (tc) => {
        const tbf = tc.qdiscs.find((x) => x.dev === tap && x.kind === 'tbf')!
        tc.qdiscs.push({dev: tap, kind: 'ingress', handle: 'ffff:', parent: 'ffff:fff1', options: {}, stats: {...tbf.stats!, drops: 40}})
        if (grown) tc.dropsLater[`${tap} ffff:`] = 55
        tc.filters.push({dev: tap, attach: 'ingress', protocol: 'ip', pref: 49152, kind: 'u32', keys: [], actions})
      })
    const police = {kind: 'police', police: {rate: 1000, burst: 2048, mtu: 2048, exceed: 'drop'}}
    const {names, evaluation} = await fire(policerDrops, policed(true, [police]))
    expect(names).toEqual([`kdlab-web01/${tap}`])
    expect(evaluation.findings[0].fix).toEqual([`tc filter del dev ${tap} ingress pref 49152`])
    expect((evaluation.findings[0].note ?? []).join('\n')).not.toContain('domiftune')
    const bandwidth = (await fireAll(policed(true, [police]))).evaluation.findings.find((f) => f.id === 'guest-bandwidth-limited')!
    expect((bandwidth.note ?? []).join('\n')).not.toContain('domiftune')
    // A filter that polices and redirects does more than limit: not deleted for its rate.
    expect((await fire(policerDrops, policed(true, [police, {kind: 'mirred', mirred: {action: 'redirect', direction: 'egress', toDev: 'ifb0'}}]))).evaluation.findings[0].fix).toEqual([])
    expect((await fire(policerDrops, policed(false, [police]))).names).toEqual([])
  })
  it("drops counted on an ingress qdisc whose filter drops (gact drop), not polices: blamed on the drop filter, no policer removed, no limit to raise; both on the hook: indeterminate, nobody blamed", async () => {
    const recorded = await factsOf('tc-tap-tbf-burst')
    const tap = tapOf(recorded)
    const hooked = (filters: {pref: number; actions: TcFacts['filters'][number]['actions']}[]) =>
      alter<TcFacts>(recorded, 'tc', (tc) => {
        const tbf = tc.qdiscs.find((x) => x.dev === tap && x.kind === 'tbf')!
        tc.qdiscs.push({dev: tap, kind: 'ingress', handle: 'ffff:', parent: 'ffff:fff1', options: {}, stats: {...tbf.stats!, drops: 40}})
        tc.dropsLater[`${tap} ffff:`] = 55
        for (const f of filters) tc.filters.push({dev: tap, attach: 'ingress', protocol: 'ip', pref: f.pref, kind: 'u32', keys: [], actions: f.actions})
      })
    const police = {kind: 'police', police: {rate: 1000, burst: 2048, mtu: 2048, exceed: 'drop'}}
    const drop = {kind: 'gact', control: 'drop'}
    // A libvirt <bandwidth outbound> polices too (an ingress police filter): its limit is not what drops here.
    const withBandwidth = (facts: typeof recorded) => alter<LibvirtFacts>(facts, 'libvirt', (l) => (l.domains[0].interfaces[0].bandwidth = {outbound: {average: 1250}}))
    const [dropped] = (await fire(policerDrops, hooked([{pref: 1, actions: [drop]}]))).evaluation.findings
    expect(dropped.summary).toContain(`a filter whose action is drop, not a policer (tc filter ingress pref 1 u32 (match all) on ${tap})`)
    expect(dropped.summary).not.toMatch(/looked: a policer|a full queue/)
    expect(dropped.fix).toEqual([])
    expect((dropped.note ?? []).join('\n')).toMatch(/a drop filter, not a rate limit/)
    const [libvirtToo] = (await fire(policerDrops, withBandwidth(hooked([{pref: 1, actions: [drop]}])))).evaluation.findings
    expect((libvirtToo.note ?? []).join('\n')).not.toContain('domiftune')
    expect(libvirtToo.summary).not.toContain('libvirt <bandwidth> sets the limit')
    // A policer and a drop filter on the same hook: the counter cannot tell them apart.
    const [both] = (await fire(policerDrops, hooked([{pref: 1, actions: [drop]}, {pref: 49152, actions: [police]}]))).evaluation.findings
    expect(both.summary).toContain(`one of tc filter ingress pref 1 u32 (match all) on ${tap}, tc filter ingress pref 49152 u32 (match all) on ${tap} (the qdisc's counter does not tell which)`)
    expect(both.fix).toEqual([])
    expect((both.note ?? []).join('\n')).toMatch(/does not say which filter drops/)
    expect((both.note ?? []).join('\n')).not.toContain('domiftune')
    // The policer alone: still the policer's, removed as before.
    const [policed] = (await fire(policerDrops, hooked([{pref: 49152, actions: [police]}]))).evaluation.findings
    expect(policed.summary).toContain(`a policer (tc filter ingress pref 49152 u32 (match all) on ${tap})`)
    expect(policed.fix).toEqual([`tc filter del dev ${tap} ingress pref 49152`])
  })
  it('stays silent on drops counted before kvmdoctor looked (the recording: 4 drops, not growing), and is not checked without tc', async () => {
    expect((await fire(policerDrops, await factsOf('tc-tap-tbf-burst'))).names).toEqual([])
    const {names, evaluation} = await fire(policerDrops, unavailable(await factsOf('tc-tap-tbf-burst'), 'tc'))
    expect(names).toEqual([])
    expect(evaluation.notChecked.map((n) => n.ruleId)).toContain('tc-policer-drops')
  })
  it('is listed under the blocking qdisc it counts the drops of (one fault), and stands alone for another qdisc of the tap', async () => {
    const recorded = await factsOf('tc-tap-tbf-burst')
    const tap = tapOf(recorded)
    const grown = (facts: typeof recorded, handle: (tc: TcFacts) => string) => alter<TcFacts>(facts, 'tc', (tc) => (tc.dropsLater[`${tap} ${handle(tc)}`] = 9))
    const tbfHandle = (tc: TcFacts) => tc.qdiscs.find((x) => x.dev === tap && x.kind === 'tbf')!.handle
    const same = (await fireAll(grown(recorded, tbfHandle))).evaluation.findings
    const blocked = same.find((f) => f.id === 'guest-flow-blocked' && /tc qdisc tbf/.test(f.entity.name))!
    const drops = same.find((f) => f.id === 'tc-policer-drops')!
    expect(blocked.rank).toBe(1)
    expect(drops.explainedBy).toMatch(/^guest-flow-blocked@element:tc qdisc tbf /)
    expect(blocked.explains).toContain(`tc-policer-drops@interface:kdlab-web01/${tap}`)
    // An ingress qdisc of the same tap dropping: not what stops the flows, so its own finding.
    const withIngress = alter<TcFacts>(recorded, 'tc', (tc) => tc.qdiscs.push({...tc.qdiscs.find((x) => x.dev === tap && x.kind === 'tbf')!, kind: 'ingress', handle: 'ffff:', parent: 'ffff:fff1', stats: {bytes: 0, packets: 0, drops: 0, overlimits: 0}}))
    const other = (await fireAll(grown(withIngress, () => 'ffff:'))).evaluation.findings
    expect(other.find((f) => f.id === 'guest-flow-blocked' && /tc qdisc tbf/.test(f.entity.name))).toBeDefined()
    expect(other.find((f) => f.id === 'tc-policer-drops')?.explainedBy).toBeUndefined()
    expect(other.find((f) => f.id === 'tc-policer-drops')?.title).toMatch(/ingress ffff: \+9/)
  })
  it("a multiqueue tap (mq root, one pfifo_fast per queue, all printed with handle 0:): each queue's counter is compared with its own, so drops counted before kvmdoctor looked are no fault, and one queue's growing drops are that queue's", async () => {
    // The recording: queue 1 dropped 37 packets before, queue 2 none, and neither grew between the two reads.
    const recorded = await factsOf('tc-tap-mq-drops-historic')
    expect((await fire(policerDrops, recorded)).names).toEqual([])
    const tap = tapOf(recorded)
    const grown = alter<TcFacts>(recorded, 'tc', (tc) => {
      const queueTwo = tc.qdiscs.find((q) => q.dev === tap && q.parent === ':2')!
      tc.dropsLater[qdiscKey(queueTwo)] = queueTwo.stats!.drops + 3
    })
    const {names, evaluation} = await fire(policerDrops, grown)
    expect(names).toEqual([`kdlab-web01/${tap}`])
    expect(evaluation.findings[0].title).toMatch(/\(pfifo_fast 0: \+3\)$/)
    expect(evaluation.findings[0].summary).toContain('qdisc pfifo_fast 0: (:2)')
  })
  it("counts each dropped packet once: a classful root's counter (htb, mq) repeats its children's drops, so the title names where they were dropped, and only what the root dropped beyond them is its own", async () => {
    // The recording: htb 1: at the root and pfifo 2: under its class 1:2 both grew by 3376, the same packets.
    const recorded = await factsOf('tc-tap-queue-drops')
    const tap = tapOf(recorded)
    const {evaluation} = await fire(policerDrops, recorded)
    expect(evaluation.findings[0].title).toMatch(/\(pfifo 2: \+3376\)$/)
    expect(evaluation.findings[0].evidence).toContain(`tc -s qdisc show dev ${tap}: htb 1: dropped 3376 more between two reads, 3376 of them counted first by the qdiscs under it`)
    // The shaping root is still what the fix removes.
    expect(evaluation.findings[0].fix).toEqual([`tc qdisc del dev ${tap} root`])
    const rootDropsMore = alter<TcFacts>(recorded, 'tc', (tc) => {
      const root = tc.qdiscs.find((q) => q.dev === tap && q.kind === 'htb')!
      tc.dropsLater[qdiscKey(root)] = tc.dropsLater[qdiscKey(root)]! + 40
    })
    expect((await fire(policerDrops, rootDropsMore)).evaluation.findings[0].title).toMatch(/\(htb 1: \+40, pfifo 2: \+3376\)$/)
    const mq = await factsOf('tc-tap-mq-drops-historic')
    const mqTap = tapOf(mq)
    const both = alter<TcFacts>(mq, 'tc', (tc) => {
      for (const q of tc.qdiscs.filter((x) => x.dev === mqTap && (x.parent === 'root' || x.parent === ':2'))) tc.dropsLater[qdiscKey(q)] = q.stats!.drops + 3
    })
    expect((await fire(policerDrops, both)).evaluation.findings[0].title).toMatch(/\(pfifo_fast 0: \+3\)$/)
  })
})
