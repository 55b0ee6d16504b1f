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
import type {NetfilterFacts} from '../probes/netfilter.js'
import type {Neighbour} from '../probes/neighbours.js'
import {buildRuleset} from '../probes/netfilter/ruleset.js'
import dnatTargetStale from '../rules/dnat-target-stale.js'
import {nftOneCommand} from '../src/lib/fix.js'
import {alter, replayOptions} from './helpers.js'
import {fireInbound, healthy} from './inbound.js'
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
    expect(fix).toEqual(['nft add rule inet kdlab_fw forward iifname virbr0 ip saddr 192.168.122.0/24 accept', 'nft add rule inet kdlab_fw forward oifname virbr0 ip daddr 192.168.122.0/24 ct state related,established accept'])
  })
})

/** A DNAT in an nft table of the admin's, as nft 1.0.6 lists it (made in a network namespace), its comment ending the command. */
const NFT_JSON = "{\"nftables\": [{\"metainfo\": {\"version\": \"1.0.6\", \"release_name\": \"Lester Gooch #5\", \"json_schema_version\": 1}}, {\"table\": {\"family\": \"ip\", \"name\": \"kdnat\", \"handle\": 1}}, {\"chain\": {\"family\": \"ip\", \"table\": \"kdnat\", \"name\": \"PREROUTING\", \"handle\": 1, \"type\": \"nat\", \"hook\": \"prerouting\", \"prio\": -100, \"policy\": \"accept\"}}, {\"rule\": {\"family\": \"ip\", \"table\": \"kdnat\", \"chain\": \"PREROUTING\", \"handle\": 2, \"comment\": \"web\\\" ; flush ruleset #\", \"expr\": [{\"match\": {\"op\": \"==\", \"left\": {\"payload\": {\"protocol\": \"ip\", \"field\": \"daddr\"}}, \"right\": \"198.51.100.1\"}}, {\"match\": {\"op\": \"==\", \"left\": {\"payload\": {\"protocol\": \"tcp\", \"field\": \"dport\"}}, \"right\": 8080}}, {\"dnat\": {\"addr\": \"192.168.122.250\", \"port\": 80}}]}}]}"
const NFT_TEXT = "table ip kdnat { # handle 1\n\tchain PREROUTING { # handle 1\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tip daddr 198.51.100.1 tcp dport 8080 dnat to 192.168.122.250:80 comment \"web\" ; flush ruleset #\" # handle 2\n\t}\n}\n"

describe("a rule's text as nft prints it stays one command", () => {
  it('nftOneCommand: a closed string may hold ; and #; outside one they end the command', () => {
    expect(nftOneCommand('ip daddr 198.51.100.1 tcp dport 8080 dnat to 192.168.122.9:80 comment "a ; b # c"')).toBe(true)
    expect(nftOneCommand('tcp dport { 80, 443 } accept')).toBe(true)
    expect(nftOneCommand('dnat to 192.168.122.9:80 comment "web" ; flush ruleset #"')).toBe(false)
    expect(nftOneCommand('comment "open')).toBe(false)
  })

  it("dnat-target-stale on an nft DNAT whose comment ends the command: no 'nft replace' line (it ran flush ruleset when pasted); a plain comment keeps it", async () => {
    const {facts, mac} = await healthy()
    const planted = (text: string, json: string) => {
      const {tables} = buildRuleset({nft: {json, text}})
      const withTable = alter<NetfilterFacts>(facts, 'netfilter', (nf) => nf.tables.push(...structuredClone(tables)))
      return alter<Neighbour[]>(withTable, 'neighbours', (n) => n.push({ip: '192.168.122.250', dev: 'virbr0', mac, state: ['STALE']}))
    }
    const replaces = async (text: string, json: string) => {
      const [f] = (await fireInbound(dnatTargetStale, planted(text, json))).findings
      expect(f?.id).toBe('dnat-target-stale')
      return f.fixSteps.filter((s) => 'argv' in s && s.argv[0] === 'nft')
    }
    expect(await replaces(NFT_TEXT, NFT_JSON)).toEqual([])
    const plain = await replaces(NFT_TEXT.replace('"web" ; flush ruleset #"', '"web"'), NFT_JSON.replace('web\\" ; flush ruleset #', 'web'))
    expect(plain.map((s) => renderSteps([s])[0])).toEqual([expect.stringMatching(/^nft replace rule ip kdnat PREROUTING handle 2 ip daddr 198\.51\.100\.1 tcp dport 8080 dnat to 192\.168\.122\.\d+:80 comment '"web"'$/)])
  })
})
