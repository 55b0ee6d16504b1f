/** The netfilter probe on a recording whose iptables-save output was changed: what it reads, and what it says it did not. */
import {cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import type {NetfilterFacts} from '../../probes/netfilter.js'
import incompatibleRule from '../../rules/iptables-nft-incompatible.js'
import {factsOfDir, fire, fixtureDir} from '../helpers.js'

const dirs: string[] = []
afterAll(() => dirs.forEach((d) => rmSync(d, {recursive: true, force: true})))

/** A copy of a recording with one command's output replaced. */
function recordingWith(fixture: string, command: RegExp, output: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kdx-probe-'))
  dirs.push(dir)
  cpSync(fixtureDir(fixture), dir, {recursive: true})
  const file = readdirSync(join(dir, 'outputs')).find((f) => command.test(f))
  if (!file) throw new Error(`${fixture}: no output matching ${command}`)
  writeFileSync(join(dir, 'outputs', file), output)
  return dir
}

describe('netfilter probe: iptables-save prints no readable table', () => {
  // What iptables-nft 1.8.9 prints when every table holds native nftables objects: these lines alone, no header.
  const save = ["# Table `mangle' is incompatible, use 'nft' tool.", "# Table `filter' is incompatible, use 'nft' tool.", "# Table `nat' is incompatible, use 'nft' tool.", ''].join('\n')

  it('reads the ruleset from nft -j, keeps the probe available and still reports iptables-nft-incompatible', async () => {
    const facts = await factsOfDir(recordingWith('iptables-nft-incompatible', /^\d+-command-iptables-save--c\.txt$/, save))
    const result = facts.results.netfilter
    expect(result?.ok, result && !result.ok ? result.error : '').toBe(true)
    const nf = (result as {data: NetfilterFacts}).data
    const nat = nf.tables.find((t) => t.backend === 'iptables-nft' && t.family === 'ip' && t.name === 'nat')!
    expect(nat.incompatible).toBe(true)
    // libvirt's masquerade rules, read from nft.
    expect(Object.values(nat.chains).flatMap((c) => c.rules).some((r) => /masquerade/.test(r.text))).toBe(true)
    expect(nf.iptablesVariant).toBe('nf_tables')
    const {evaluation} = await fire(incompatibleRule, facts)
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].title).toMatch(/ip mangle/)
    expect(evaluation.findings[0].title).toMatch(/ip nat/)
  })

  it('says what it could not read: a failed ip6tables-save is a gap and marks the probe degraded; garbage from iptables-save is an error', async () => {
    const dir = recordingWith('iptables-nft-incompatible', /^\d+-command-ip6tables-save--c\.txt$/, '')
    const manifestFile = join(dir, 'manifest.json')
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as {captures: {argv?: string[]; error?: string; errorCode?: string; exitCode?: number}[]}
    const entry = manifest.captures.find((c) => c.argv?.join(' ') === 'ip6tables-save -c')!
    Object.assign(entry, {error: 'ip6tables-save -c: exit status 1', errorCode: 'exit-status', exitCode: 1})
    writeFileSync(manifestFile, JSON.stringify(manifest))
    const result = (await factsOfDir(dir)).results.netfilter
    expect(result?.ok, result && !result.ok ? result.error : '').toBe(true)
    const gap = expect.stringMatching(/^ip6tables-save: .*exit status 1 \(the ip6tables IPv6 tables are unknown\)$/)
    expect((result as {data: NetfilterFacts}).data.gaps).toEqual([gap])
    expect(result).toMatchObject({degraded: [gap]})
    const garbage = await factsOfDir(recordingWith('iptables-nft-incompatible', /^\d+-command-iptables-save--c\.txt$/, 'Fatal: cannot open table\n'))
    expect(garbage.results.netfilter?.ok).toBe(false)
  })
})
