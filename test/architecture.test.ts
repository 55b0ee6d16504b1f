import {readdirSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {areaEdges, fileEdges} from '../scripts/import-graph.mjs'

/**
 * The layers data flows through, lowest first: an import (runtime or type-only) may only
 * point down. `node scripts/import-graph.mjs` prints the graph this checks.
 */
const LAYERS = [['src/lib'], ['probes'], ['src/datapath'], ['src/derive'], ['rules'], ['src/core'], ['reports'], ['src/commands', 'src/hooks', 'src/bin']]
const layerOf = (area: string) => LAYERS.findIndex((l) => l.includes(area))

describe('architecture: imports point one way', () => {
  const edges = areaEdges()

  it('every source directory has a layer', () => {
    const areas = new Set(edges.flatMap((e) => [e.from, e.to]))
    for (const d of readdirSync(join(__dirname, '..', 'src'))) areas.add(`src/${d}`)
    expect([...areas].filter((a) => layerOf(a) < 0)).toEqual([])
  })

  it('no directory imports one above it, so there is no cycle', () => {
    const upward = edges.filter((e) => layerOf(e.to) >= layerOf(e.from)).map((e) => `${e.from} -> ${e.to} (${e.runtime} runtime, ${e.typeOnly} type-only)`)
    expect(upward).toEqual([])
  })

  it('probes import only src/lib and each other, never core', () => {
    const wrong = fileEdges().filter((e) => e.from.startsWith('probes/') && !e.to.startsWith('probes/') && !e.to.startsWith('src/lib/'))
    expect(wrong.map((e) => `${e.from} -> ${e.to}`)).toEqual([])
  })

  it('the checker sees type-only imports apart from runtime ones (rules name derive types and run nothing of it)', () => {
    const rulesToDerive = edges.find((e) => e.from === 'rules' && e.to === 'src/derive')
    expect(rulesToDerive).toMatchObject({runtime: 0})
    expect(rulesToDerive!.typeOnly).toBeGreaterThan(0)
    expect(edges.find((e) => e.from === 'src/core' && e.to === 'rules')!.runtime).toBeGreaterThan(0)
  })
})
