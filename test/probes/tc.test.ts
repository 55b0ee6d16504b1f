/** tc's own output (test/data/tc/capture.sh): qdiscs, htb classes (text even with -j), u32 filters and actions. */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseClasses, parseFilters, parseQdiscs, parseRate, parseSize} from '../../probes/tc.js'
import {ROOT} from '../helpers.js'

const data = (f: string) => readFileSync(join(ROOT, 'test/data/tc', f), 'utf8')

describe('tc parsers on real output', () => {
  it('qdiscs: kind, handle, where they hang, options and counters', () => {
    const q = parseQdiscs(data('qdisc.json'))
    const on = (dev: string) => q.filter((x) => x.dev === dev).map((x) => `${x.kind} ${x.handle} ${x.parent}`)
    expect(on('t0')).toEqual(['htb 1: root', 'pfifo 10: 1:10', 'ingress ffff: ingress'])
    expect(on('t1')).toEqual([expect.stringMatching(/^tbf [0-9a-f]+: root$/), 'clsact ffff: ingress'])
    expect(q.find((x) => x.dev === 't1' && x.kind === 'tbf')!.options).toMatchObject({rate: 125000, burst: 1000})
    expect(q.find((x) => x.kind === 'pfifo')!.options).toEqual({limit: 0})
    expect(q.find((x) => x.dev === 'br0')!).toMatchObject({kind: 'bfifo', options: {limit: 500}})
    expect(q.find((x) => x.kind === 'htb')!.stats).toMatchObject({packets: expect.any(Number), drops: expect.any(Number)})
  })
  it('htb classes from the text listing: rate, ceil, burst, leaf, counters', () => {
    const [c] = parseClasses(data('class-t0.txt'), 't0')
    expect(c).toMatchObject({dev: 't0', kind: 'htb', classid: '1:10', parent: 'root', leaf: '10:', rate: 8000, ceil: 8000, burst: 1500, cburst: 1500})
    expect(c.stats).toEqual({bytes: 54, packets: 1, drops: 1, overlimits: 0})
  })
  it('u32 filters: every key kept (tc repeats the "match" key in one JSON object), the flowid and the actions', () => {
    const [redirect] = parseFilters(data('filter-t1-ingress.json'), 't1', 'ingress')
    expect(redirect.keys).toEqual([
      {value: 0xc0a87a00, mask: 0xffffff00, off: 16},
      {value: 0x60000, mask: 0xff0000, off: 8},
      {value: 0x50, mask: 0xffff, off: 20},
    ])
    expect(redirect.actions).toEqual([expect.objectContaining({kind: 'mirred', control: 'stolen', mirred: {action: 'redirect', direction: 'egress', toDev: 't0'}})])
    const [classify] = parseFilters(data('filter-t0-parent-1.json'), 't0', '1:')
    expect(classify).toMatchObject({protocol: 'ip', pref: 1, flowid: '1:10', keys: [{value: 0x0a000001, mask: 0xffffffff, off: 12}], actions: []})
    // The hash table entries u32 prints beside its keys are not filters.
    expect(parseFilters(data('filter-t0-ingress.json'), 't0', 'ingress')).toHaveLength(1)
    expect(parseFilters(data('filter-t1-egress.json'), 't1', 'egress')).toEqual([])
  })
  it('units: rates in bits per second (powers of 1000), sizes in bytes (powers of 1024)', () => {
    expect(parseRate('8Kbit')).toBe(8000)
    expect(parseRate('2Mbit')).toBe(2_000_000)
    expect(parseRate('100bps')).toBe(800)
    expect(parseSize('256Kb')).toBe(262144)
    expect(parseSize('1600b')).toBe(1600)
    expect(parseRate('fast')).toBeUndefined()
  })
  it('garbage is a parse error, not an empty list', () => {
    expect(() => parseQdiscs('qdisc noqueue 0: dev lo root')).toThrow(/not valid JSON/)
    expect(() => parseQdiscs('[{"handle":"1:"}]')).toThrow(/no kind or dev/)
  })
})
