import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {areaEdges, fileEdges} from '../scripts/import-graph.mjs'
import {ROOT} from './helpers.js'

/**
 * The layers data flows through, lowest first, as README's "How it works" documents them:
 * runner → probes → facts → derivations (views, datapath) → rules → findings (the result reports
 * read) → reports → services → commands. An import (runtime or type-only) may only point down.
 * `node scripts/import-graph.mjs` prints the graph this checks.
 */
const LAYERS = [['src/lib'], ['probes'], ['src/datapath'], ['src/derive'], ['rules'], ['src/result'], ['reports'], ['src/core'], ['src/cli', 'src/commands', 'src/hooks', 'src/bin']]
const layerOf = (area: string) => LAYERS.findIndex((l) => l.includes(area))

describe('architecture: imports point one way', () => {
  const edges = areaEdges()
  const files = fileEdges()

  it('every source directory has a layer', () => {
    const areas = new Set(edges.flatMap((e) => [e.from, e.to]))
    for (const d of readdirSync(join(ROOT, 'src'))) areas.add(`src/${d}`)
    expect([...areas].filter((a) => layerOf(a) < 0)).toEqual([])
  })

  it('no directory imports one above it (nor one beside it: each floor uses only those below)', () => {
    const upward = edges.filter((e) => layerOf(e.to) >= layerOf(e.from) && !LAYERS[layerOf(e.from)].includes(e.to)).map((e) => `${e.from} -> ${e.to} (${e.runtime} runtime, ${e.typeOnly} type-only)`)
    expect(upward).toEqual([])
  })

  it('no file imports itself back through others: no cycle of runtime imports', () => {
    const next = new Map<string, string[]>()
    for (const e of files.filter((f) => !f.typeOnly)) next.set(e.from, [...(next.get(e.from) ?? []), e.to])
    const cycles: string[] = []
    const state = new Map<string, 'open' | 'done'>()
    const path: string[] = []
    const visit = (file: string) => {
      state.set(file, 'open')
      path.push(file)
      for (const to of next.get(file) ?? []) {
        if (state.get(to) === 'open') cycles.push([...path.slice(path.indexOf(to)), to].join(' -> '))
        else if (!state.has(to)) visit(to)
      }
      path.pop()
      state.set(file, 'done')
    }
    for (const file of next.keys()) if (!state.has(file)) visit(file)
    expect(cycles).toEqual([])
  })

  it('probes import only src/lib and each other', () => {
    const wrong = files.filter((e) => e.from.startsWith('probes/') && !e.to.startsWith('probes/') && !e.to.startsWith('src/lib/'))
    expect(wrong.map((e) => `${e.from} -> ${e.to}`)).toEqual([])
  })

  it('a rule reads views: its file imports the rule kit, the helpers rules share and view types, nothing that runs a probe or a service', () => {
    const shared = ['rules/kit.ts', 'rules/datapath.ts', 'rules/applies.ts', 'rules/dhcp-pool.ts']
    const wrong = files.filter((e) => e.from.startsWith('rules/') && !shared.includes(e.from) && !['rules/index.ts', 'rules/registry.generated.ts'].includes(e.from) && !(shared.includes(e.to) || (e.typeOnly && (e.to.startsWith('src/derive/') || e.to.startsWith('src/datapath/')))))
    expect(wrong.map((e) => `${e.from} -> ${e.to}${e.typeOnly ? ' (type)' : ''}`)).toEqual([])
  })

  it('reports import only the result types (and leaf code), never a service', () => {
    const wrong = files.filter((e) => e.from.startsWith('reports/') && !/^(reports|src\/result|src\/lib)\//.test(e.to) && !(e.typeOnly && e.to.startsWith('src/datapath/')))
    expect(wrong.map((e) => `${e.from} -> ${e.to}`)).toEqual([])
  })

  it('nothing below the commands knows oclif', () => {
    const sources = (dir: string): string[] =>
      readdirSync(join(ROOT, dir), {withFileTypes: true}).flatMap((d) => (d.isDirectory() ? sources(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []))
    const below = ['src/lib', 'probes', 'src/datapath', 'src/derive', 'rules', 'src/result', 'reports', 'src/core'].flatMap(sources)
    expect(below.filter((f) => /from '@oclif\//.test(readFileSync(join(ROOT, f), 'utf8')))).toEqual([])
  })

  it('the checker sees type-only imports apart from runtime ones (rules name view types and run none of the derivations)', () => {
    const rulesToDerive = edges.find((e) => e.from === 'rules' && e.to === 'src/derive')
    expect(rulesToDerive).toMatchObject({runtime: 0})
    expect(rulesToDerive!.typeOnly).toBeGreaterThan(0)
    expect(edges.find((e) => e.from === 'src/core' && e.to === 'rules')!.runtime).toBeGreaterThan(0)
  })
})
