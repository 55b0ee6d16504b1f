/** The tc hop on real tc listings (test/data/tc): what each qdisc and filter does to a flow's packets. */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {type TcFacts, parseClasses, parseFilters, parseQdiscs} from '../../probes/tc.js'
import {type TcPacket, tcVerdict} from '../../src/datapath/tc.js'
import {ROOT} from '../helpers.js'
import {ALL_RULES} from '../../rules/index.js'
import {ownershipOf} from '../../rules/kit.js'
import {renderSteps} from '../../src/lib/fix.js'

const data = (f: string) => readFileSync(join(ROOT, 'test/data/tc', f), 'utf8')
const recorded = (): TcFacts => ({
  qdiscs: parseQdiscs(data('qdisc.json')),
  classes: parseClasses(data('class-t0.txt'), 't0'),
  filters: [...parseFilters(data('filter-t0-parent-1.json'), 't0', '1:'), ...parseFilters(data('filter-t0-ingress.json'), 't0', 'ingress'), ...parseFilters(data('filter-t1-ingress.json'), 't1', 'ingress')],
  dropsLater: {},
  unread: {},
})
const web: TcPacket = {family: 4, l4proto: 'tcp', src: '203.0.113.10', dst: '192.168.122.50', sport: 80, dport: 40000, size: 1500}
const dns: TcPacket = {family: 4, l4proto: 'udp', src: '192.168.122.1', dst: '192.168.122.50', sport: 53, dport: 40000, size: 100}

describe('tc hop', () => {
  it('htb: a packet no filter classifies takes the default class, whose pfifo holds nothing: it fails, naming the qdisc', () => {
    const v = tcVerdict(recorded(), undefined, 't0', 'egress', web)!
    expect(v.verdict).toBe('fail')
    expect(v.element).toMatchObject({id: 't0 10:'.replace(/^/, 'tc-qdisc:'), kind: 'tc-qdisc', device: 't0'})
    expect(v.detail).toContain('limit 0')
  })
  it('an ingress filter that only classifies lets packets through', () => {
    expect(tcVerdict(recorded(), undefined, 't0', 'ingress', web)?.verdict).toBe('pass')
  })
  it('a u32 filter redirecting tcp/80 to the guest subnet elsewhere fails that flow only', () => {
    const toWeb = {...web, src: '192.168.122.50', dst: '192.168.122.60', sport: 40000, dport: 80}
    const v = tcVerdict(recorded(), undefined, 't1', 'ingress', toWeb)!
    expect(v.verdict).toBe('fail')
    expect(v.detail).toContain('redirected to t0')
    // The rule that owns tc elements undoes it.
    expect(renderSteps(ownershipOf(ALL_RULES, v.element!)[0].ownership.undo(v.element!))).toEqual(['tc filter del dev t1 ingress pref 5'])
    expect(tcVerdict(recorded(), undefined, 't1', 'ingress', {...toWeb, dport: 443})).toBeUndefined()
    expect(tcVerdict(recorded(), undefined, 't1', 'ingress', {...toWeb, l4proto: 'udp'})).toBeUndefined()
  })
  it('tbf: a burst smaller than a full-size packet never sends it; a small packet passes, shaped', () => {
    expect(tcVerdict(recorded(), undefined, 't1', 'egress', web)).toMatchObject({verdict: 'fail', element: {kind: 'tc-qdisc'}})
    expect(tcVerdict(recorded(), undefined, 't1', 'egress', dns)).toMatchObject({verdict: 'pass', detail: expect.stringContaining('1 Mbit/s')})
  })
  it('bfifo: a byte limit under the packet size drops it', () => {
    expect(tcVerdict(recorded(), undefined, 'br0', 'egress', web)?.verdict).toBe('fail')
    expect(tcVerdict(recorded(), undefined, 'br0', 'egress', dns)?.verdict).toBe('pass')
  })
  it('a device with only a default qdisc is no hop at all; tc not read is undecided, never a pass', () => {
    expect(tcVerdict(recorded(), undefined, 'lo', 'egress', web)).toBeUndefined()
    expect(tcVerdict(null, 'tc: not found', 'lo', 'egress', web)).toMatchObject({verdict: 'indeterminate', detail: expect.stringContaining('tc: not found')})
    expect(tcVerdict({...recorded(), unread: {t0: 'tc filter show: timed out'}}, undefined, 't0', 'ingress', web)?.verdict).toBe('indeterminate')
  })
  it('a filter kind kvmdoctor does not evaluate decides only if the outcome differs either way', () => {
    const tc = recorded()
    tc.filters.push({dev: 't1', attach: 'ingress', protocol: 'ip', pref: 1, kind: 'flower', actions: [{kind: 'gact', control: 'drop'}], options: {keys: {ip_proto: 'tcp'}}})
    const v = tcVerdict(tc, undefined, 't1', 'ingress', {...web, dport: 443})!
    expect(v.verdict).toBe('indeterminate')
    expect(v.detail).toMatch(/flower match kvmdoctor cannot evaluate decides \(dropped by .* if it matches, nothing if not\)/)
  })
  it('a multiqueue root (mq): each transmit queue\'s qdisc is judged, whether tc prints their parent as :1 (the default root, handle 0:) or 8002:1', () => {
    // tc -j -s qdisc show of a two-queue device (iproute2 prints major 0 as nothing), one queue given netem loss 100%.
    const mq = (handle: string, queueTwo: string) =>
      parseQdiscs(
        JSON.stringify([
          {kind: 'mq', handle, dev: 'eth1', root: true, options: {}, bytes: 86, packets: 1, drops: 0, overlimits: 0, requeues: 0, backlog: 0, qlen: 0},
          {kind: queueTwo, handle: '0:', dev: 'eth1', parent: `${handle === '0:' ? ':' : handle}2`, options: queueTwo === 'netem' ? {limit: 1000, 'loss-random': {loss: 1, correlation: 0}} : {bands: 3, priomap: [1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1], multiqueue: false}, bytes: 0, packets: 0, drops: 0, overlimits: 0, requeues: 0, backlog: 0, qlen: 0},
          {kind: 'pfifo_fast', handle: '0:', dev: 'eth1', parent: `${handle === '0:' ? ':' : handle}1`, options: {bands: 3, priomap: [1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1], multiqueue: false}, bytes: 86, packets: 1, drops: 0, overlimits: 0, requeues: 0, backlog: 0, qlen: 0},
        ]),
      )
    const on = (qdiscs: TcFacts['qdiscs']): TcFacts => ({qdiscs, classes: [], filters: [], dropsLater: {}, unread: {}})
    for (const handle of ['0:', '8002:']) {
      expect(tcVerdict(on(mq(handle, 'pfifo_fast')), undefined, 'eth1', 'egress', web), handle).toMatchObject({verdict: 'pass', detail: 'qdisc mq (2 queues)'})
      const lossy = tcVerdict(on(mq(handle, 'netem')), undefined, 'eth1', 'egress', web)!
      expect(lossy.verdict, handle).toBe('indeterminate')
      expect(lossy.detail).toContain('some transmit queues drop it (qdisc netem on eth1 loses every packet')
    }
  })
  it("libvirt's <bandwidth> recipe (htb default 1, an fw filter to class 1): the filter kvmdoctor cannot evaluate leads to the default class either way, so it decides nothing; to another class it still does", () => {
    const libvirt = (flowid: string, leafLimit?: number): TcFacts => ({
      qdiscs: [
        {dev: 'vnet7', kind: 'htb', handle: '1:', parent: 'root', options: {default: '0x1'}},
        {dev: 'vnet7', kind: 'sfq', handle: '2:', parent: '1:1', options: {}},
        ...(leafLimit !== undefined ? [{dev: 'vnet7', kind: 'pfifo', handle: '3:', parent: '1:2', options: {limit: leafLimit}}] : []),
      ],
      classes: [
        {dev: 'vnet7', kind: 'htb', classid: '1:1', parent: 'root', leaf: '2:', rate: 512_000, ceil: 512_000},
        {dev: 'vnet7', kind: 'htb', classid: '1:2', parent: 'root', leaf: '3:', rate: 8_000, ceil: 8_000},
      ],
      filters: [{dev: 'vnet7', attach: '1:', protocol: 'all', pref: 1, kind: 'fw', flowid, actions: []}],
      dropsLater: {},
      unread: {},
    })
    for (const flowid of ['1', '1:1']) expect(tcVerdict(libvirt(flowid), undefined, 'vnet7', 'egress', web), `flowid ${flowid}`).toMatchObject({verdict: 'pass', detail: expect.stringContaining('class 1:1 512 kbit/s')})
    const v = tcVerdict(libvirt('1:2', 0), undefined, 'vnet7', 'egress', web)!
    expect(v.verdict).toBe('indeterminate')
    expect(v.detail).toMatch(/fw match kvmdoctor cannot evaluate decides/)
  })
})
