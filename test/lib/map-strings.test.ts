import {describe, expect, it} from 'vitest'
import {mapStringsDeep, stringMapper} from '../../src/lib/scrub.js'

const upper = (s: string) => (s.includes('secret') ? s.replace('secret', 'XXX') : s)

describe('mapStringsDeep: every string transformed, only what changes copied', () => {
  it('returns the very value when no string changes', () => {
    const v = {a: ['x', {b: 'y', n: 3, d: new Date(0)}], c: null}
    expect(mapStringsDeep(v, upper)).toBe(v)
  })

  it('copies the path to a changed string, keeps its siblings and the key order, leaves the input alone', () => {
    const untouched = {deep: ['plain']}
    const v = {first: 1, list: ['a', 'my secret', 'b'], other: untouched, last: 'z'}
    const out = mapStringsDeep(v, upper)
    expect(out).toEqual({first: 1, list: ['a', 'my XXX', 'b'], other: {deep: ['plain']}, last: 'z'})
    expect(Object.keys(out)).toEqual(['first', 'list', 'other', 'last'])
    expect(out).not.toBe(v)
    expect(out.other).toBe(untouched)
    expect(v.list[1]).toBe('my secret')
  })

  it('an object met twice gets one result, changed or not', () => {
    const shared = {s: 'secret'}
    const out = mapStringsDeep({x: shared, y: [shared]}, upper)
    expect(out.x).toEqual({s: 'XXX'})
    expect(out.y[0]).toBe(out.x)
  })

  it('transforms strings past the memo length too', () => {
    const long = `${'a'.repeat(300)} secret`
    expect(mapStringsDeep([long], upper)[0]).toBe(`${'a'.repeat(300)} XXX`)
  })

  it('one mapper over two values (a diagnosis and its topology) transforms a string they share once, with the same results', () => {
    const calls: string[] = []
    const counted = (text: string) => (calls.push(text), upper(text))
    const hop = {detail: 'my secret hop'}
    const diagnosis = {flows: [{hops: [hop]}], note: 'plain'}
    const topology = {guests: [{flows: [{hops: [{detail: 'my secret hop'}]}], same: hop}]}
    const mapped = stringMapper(counted)
    const [a, b] = [mapped(diagnosis), mapped(topology)]
    expect([a, b]).toEqual([mapStringsDeep(diagnosis, upper), mapStringsDeep(topology, upper)])
    expect(calls.filter((c) => c === 'my secret hop')).toHaveLength(1)
    expect(b.guests[0].same).toBe(a.flows[0].hops[0])
  })
})
