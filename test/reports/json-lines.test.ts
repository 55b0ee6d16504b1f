/**
 * --format json is written a piece at a time (jsonLines): the pieces, joined by the newlines the writer adds,
 * are exactly what JSON.stringify(report, null, 2) prints, whatever the report holds.
 */
import {describe, expect, it} from 'vitest'
import {jsonLines, reportableJsonLines, reportableJsonText} from '../../reports/json.js'
import {gateDecision} from '../../src/core/gate.js'
import {RECORDINGS, diagnosisOf} from './recordings.js'

const written = (report: object) => [...jsonLines(report)].join('\n')

describe('jsonLines', () => {
  it.each([
    ['an empty report', {}],
    ['only keys without JSON text', {a: undefined, b: () => 1}],
    ['scalars, nulls, nested objects and empty containers', {n: 1, s: 'x "quoted"\nline', t: true, z: null, o: {p: {q: [1, {r: []}]}}, e: [], eo: {}}],
    ['arrays of objects, of arrays and of values without JSON text', {flows: [{a: 1, b: [1, 2]}, [3, [4]], undefined, () => 0, 'x'], tail: 1}],
    ['a key left out last', {flows: [1, 2], gone: undefined}],
    ['a Date (its toJSON) inside an array', {at: [new Date(0)], when: new Date(1)}],
    ['lists over several batches, elements without JSON text on their edges', {a: Array.from({length: 513}, (_, i) => (i % 256 === 255 ? undefined : i % 256 === 0 ? () => i : i % 5 ? {i, n: [i, {x: 'y\nz'}]} : [i])), b: [[]], c: 'x'}],
  ])('%s', (_, report) => {
    expect(written(report)).toBe(JSON.stringify(report, null, 2))
  })

  it('an array of tens of thousands of elements comes in several pieces, each ending where a line does', () => {
    const report = {version: 1, flows: Array.from({length: 30_000}, (_, i) => ({guest: `vm${i}`, hops: [{name: 'out', verdict: i % 2 ? 'pass' : 'fail'}]})), counts: {high: 1}}
    const pieces = [...jsonLines(report)]
    expect(pieces.length).toBeGreaterThan(1)
    expect(pieces.every((p) => !p.endsWith('\n') && !p.startsWith('\n'))).toBe(true)
    expect(pieces.join('\n')).toBe(JSON.stringify(report, null, 2))
  })
})

// diagnose --format json projects and scrubs each element as it writes it (reportableJsonLines): the text is the one
// the report as a whole would print (reportableJsonText), on every recording, gate included.
describe('reportableJsonLines', () => {
  it.each(RECORDINGS)('%s', async (name) => {
    const d = await diagnosisOf(name, {policyRules: true})
    const gate = gateDecision(d, 'high')
    expect([...reportableJsonLines(d, gate)].join('\n') + '\n').toBe(reportableJsonText(d, gate))
  })
})
