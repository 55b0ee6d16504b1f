/**
 * nft joins its arguments with spaces and parses them as one line of its own language: `;` ends a command, `#`
 * starts a comment. A table or chain name the host holds (nft's JSON takes any string) that nft would split is never
 * an argument of a printed fix, and `fix --yes` refuses a step that has one: shell quoting keeps the word whole for
 * bash, not for nft. Proof by hand in a network namespace: the old line for the table below, pasted, ran
 * `flush ruleset`.
 */
import {describe, expect, it} from 'vitest'
import {diagnose} from '../src/core/diagnose.js'
import {fixHostOf, judgeFixSteps} from '../src/core/fix-safety.js'
import {ReplayRunner} from '../src/core/snapshot.js'
import {type FixStep, nftWord, renderSteps} from '../src/lib/fix.js'
import {replayOptions} from './helpers.js'
import {renamedRecording} from './hostile/helpers.js'

const HOSTILE_TABLE = 'kd forward accept;flush ruleset #'

async function diagnosisOfDir(dir: string) {
  const runner = await ReplayRunner.open(dir)
  return diagnose({runner, options: replayOptions(runner), version: 'test', now: new Date('2026-01-01T00:00:00Z')})
}

const nftSteps = (steps: FixStep[]) => steps.filter((s): s is {argv: string[]} => 'argv' in s && s.argv[0] === 'nft')

describe('host names nft would split', () => {
  it('nft words: plain tokens and nft strings; not a space, ;, #, a brace or a quote inside', () => {
    for (const w of ['kdlab_fw', 'virbr0', '"vir br;x"', '192.168.122.0/24', '2001:db8::/64', 'related,established', '"virbr*"']) expect(nftWord(w), w).toBe(true)
    for (const w of ['a b', 'x;flush', '#c', '{', '"a"b"', '"a\\"', '"a\nb"', '']) expect(nftWord(w), w).toBe(false)
  })

  it(`a table named ${JSON.stringify(HOSTILE_TABLE)}: no fix line passes it to nft, and the judge refuses the step that would (nft-forward-drop, renamed)`, async () => {
    const d = await diagnosisOfDir(await renamedRecording('nft-forward-drop', {kdlab_fw: HOSTILE_TABLE}))
    const finding = d.findings.find((f) => f.id === 'nft-forward-drop')!
    expect(finding.entity.name).toContain(HOSTILE_TABLE)
    for (const f of d.findings) for (const s of nftSteps(f.fixSteps)) expect(s.argv.slice(1).filter((w) => !nftWord(w) && w !== '{ 53, 67 }'), renderSteps([s])[0]).toEqual([])
    // The accept the old code printed for it: every word one word to bash, two commands to nft.
    const old: FixStep = {argv: ['nft', 'insert', 'rule', 'inet', HOSTILE_TABLE, 'forward', 'iifname', 'virbr0', 'ip', 'saddr', '192.168.122.0/24', 'accept']}
    expect(judgeFixSteps({...finding, fixSteps: [old]}, fixHostOf(d.facts)).map((p) => p.why)).toEqual([expect.stringContaining('more than one word to nft')])
    const deletion: FixStep = {argv: ['nft', 'delete', 'rule', 'inet', HOSTILE_TABLE, 'forward', 'handle', '2']}
    expect(judgeFixSteps({...finding, fixSteps: [deletion]}, fixHostOf(d.facts))).toHaveLength(1)
  })

  it('the plain recording keeps its nft accepts (nft-forward-drop)', async () => {
    const d = await diagnosisOfDir(await renamedRecording('nft-forward-drop', {}))
    const fix = renderSteps(d.findings.find((f) => f.id === 'nft-forward-drop')!.fixSteps)
    expect(fix).toEqual(['nft insert rule inet kdlab_fw forward iifname virbr0 ip saddr 192.168.122.0/24 accept', 'nft insert rule inet kdlab_fw forward oifname virbr0 ip daddr 192.168.122.0/24 ct state related,established accept'])
  })
})
