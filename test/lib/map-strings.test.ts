import {describe, expect, it} from 'vitest'
import {mapStringsDeep} from '../../src/lib/scrub.js'

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
})
