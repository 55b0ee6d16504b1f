/**
 * SARIF as GitHub code scanning takes it, on every recording: the official
 * 2.1.0 schema, then GitHub's ingestion rules written down below.
 */
import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'
import {beforeAll, describe, expect, it} from 'vitest'
import {artifactUri, toSarif} from '../reports/sarif.js'
import {docsBaseUrl} from '../src/core/output.js'
import {fileOf} from '../src/core/engine.js'
import type {DiagnosisRun as Diagnosis} from '../src/core/diagnose.js'
import {runDiagnose} from '../src/core/diagnose-service.js'
import {UserError} from '../src/core/errors.js'
import {EVERY_RULE} from '../src/core/rule-docs.js'
import {NO_CONFIG_DIR, ROOT, fixtureDir} from './helpers.js'
import {RECORDINGS, recordedTap, withPolicyRules, withTapRenamed} from './tools.js'

const diagnosisOf = (from: string) =>
  runDiagnose({from, timeoutMs: 5000, options: {active: false, libvirtUri: 'qemu:///system'}, version: 'test'}, {now: () => new Date('2026-11-28T12:00:00Z'), configDir: NO_CONFIG_DIR})

type Sarif = ReturnType<typeof toSarif>

/**
 * GitHub's documented rules for uploaded SARIF ("SARIF support for code scanning" and its
 * limits page), as checks: an empty list means GitHub takes the file as is.
 */
export function githubIngestionProblems(sarif: Sarif, fileText = JSON.stringify(sarif)): string[] {
  const problems: string[] = []
  const LEVELS = ['none', 'note', 'warning', 'error']
  if (sarif.version !== '2.1.0') problems.push(`version ${sarif.version}`)
  if (sarif.runs.length > 20) problems.push(`${sarif.runs.length} runs > 20`)
  // The upload limit is 10 MB of gzip-compressed SARIF.
  if (gzipSync(fileText).length > 10 * 1024 * 1024) problems.push('over 10 MB gzipped')
  if (/file:\/\//.test(fileText)) problems.push('a file:// URI (a path on the machine that ran the tool)')
  for (const run of sarif.runs) {
    const rules = run.tool.driver.rules as {id: string; shortDescription?: {text: string}; fullDescription?: {text: string}; help?: {text: string}; helpUri?: string; defaultConfiguration?: {level: string}; properties?: {tags?: string[]; 'security-severity'?: string}}[]
    if (!run.tool.driver.name) problems.push('tool.driver.name missing')
    if (rules.length > 25_000) problems.push(`${rules.length} rules > 25000`)
    if (run.results.length > 25_000) problems.push(`${run.results.length} results > 25000`)
    const ids = new Set(rules.map((r) => r.id))
    if (ids.size !== rules.length) problems.push('duplicate rule ids')
    const automation = (run as {automationDetails?: {id?: string}}).automationDetails?.id
    // category/run-id: the category (before the last slash) keeps one host's alerts apart from another's
    if (!automation || !/^[^/]+(\/[^/]+)*\/[^/]*$/.test(automation)) problems.push(`automationDetails.id "${automation}" is not CATEGORY/RUN`)
    for (const r of rules) {
      if ((r.shortDescription?.text.length ?? 0) > 1024) problems.push(`${r.id}: shortDescription over 1024 characters`)
      if ((r.fullDescription?.text.length ?? 0) > 1024) problems.push(`${r.id}: fullDescription over 1024 characters`)
      if (!r.help?.text) problems.push(`${r.id}: no help.text`)
      if (r.helpUri !== undefined && !/^https:\/\//.test(r.helpUri)) problems.push(`${r.id}: helpUri ${r.helpUri} is not https`)
      if (r.defaultConfiguration && !LEVELS.includes(r.defaultConfiguration.level)) problems.push(`${r.id}: level ${r.defaultConfiguration.level}`)
      if ((r.properties?.tags?.length ?? 0) > 20) problems.push(`${r.id}: more than 20 tags`)
      const sev = r.properties?.['security-severity']
      if (sev !== undefined && !(typeof sev === 'string' && /^\d+(\.\d+)?$/.test(sev) && Number(sev) >= 0 && Number(sev) <= 10)) problems.push(`${r.id}: security-severity ${sev}`)
    }
    for (const [i, res] of run.results.entries()) {
      const at = `result ${i} (${res.ruleId})`
      if (!ids.has(res.ruleId)) problems.push(`${at}: ruleId not in tool.driver.rules`)
      if (res.ruleIndex !== undefined && rules[res.ruleIndex]?.id !== res.ruleId) problems.push(`${at}: ruleIndex points elsewhere`)
      if (!LEVELS.includes(res.level)) problems.push(`${at}: level ${res.level}`)
      if (!res.message?.text) problems.push(`${at}: no message.text`)
      if (res.locations.length === 0) problems.push(`${at}: no location`)
      if (res.locations.length > 10) problems.push(`${at}: more than 10 locations`)
      for (const loc of res.locations) {
        const uri = (loc as {physicalLocation?: {artifactLocation?: {uri?: string}}}).physicalLocation?.artifactLocation?.uri
        if (!uri) problems.push(`${at}: a location without physicalLocation.artifactLocation.uri`)
        else if (/^[a-z][a-z0-9+.-]*:/i.test(uri) || uri.startsWith('/')) problems.push(`${at}: artifact ${uri} is not a relative path`)
      }
      const fp = Object.values(res.partialFingerprints ?? {})
      if (fp.length === 0 || fp.some((v) => typeof v !== 'string' || v === '')) problems.push(`${at}: partialFingerprints missing`)
    }
  }
  return problems
}

// The official schema is draft-04: ajv-draft-04, with ajv-formats for uri and date-time.
const require = createRequire(import.meta.url)
const Ajv = require('ajv-draft-04')
const addFormats = require('ajv-formats')
const ajv = new Ajv({strict: false, allErrors: true})
addFormats(ajv)
const validate = ajv.compile(JSON.parse(readFileSync(join(ROOT, 'test/data/sarif-schema-2.1.0.json'), 'utf8')))

describe('SARIF on every recording', () => {
  // Each recording as recorded, and with the policy rules that make its datapath rules checked.
  const diagnoses = new Map<string, Diagnosis>()
  beforeAll(async () => {
    for (const name of RECORDINGS) {
      diagnoses.set(name, await diagnosisOf(fixtureDir(name)))
      diagnoses.set(`${name}+ip-rules`, await diagnosisOf(await withPolicyRules(name)))
    }
  })

  it('validates against the official SARIF 2.1.0 schema', () => {
    expect(diagnoses.size).toBe(RECORDINGS.length * 2)
    for (const [name, d] of diagnoses) expect(validate(toSarif(d)), `${name}: ${JSON.stringify(validate.errors?.slice(0, 3))}`).toBe(true)
  })

  it('meets GitHub code scanning ingestion rules: location, rule ids, levels, security-severity, sizes', () => {
    let results = 0
    for (const [name, d] of diagnoses) {
      const sarif = toSarif(d)
      expect(githubIngestionProblems(sarif), name).toEqual([])
      results += sarif.runs[0].results.length
    }
    // Every recording but the healthy ones has findings: the rules were applied to real results.
    expect(results).toBeGreaterThan(RECORDINGS.length)
  })

  it('fingerprints differ per finding and per host; the automation category names the host', () => {
    for (const [name, d] of diagnoses) {
      const run = toSarif(d).runs[0]
      const prints = run.results.map((r) => r.partialFingerprints['kvmdoctorFinding/v2'])
      expect(new Set(prints).size, name).toBe(prints.length)
      expect(run.automationDetails.id.startsWith(`kvmdoctor/${d.host}/`), name).toBe(true)
      const elsewhere = toSarif({...d, host: 'hv2'}).runs[0]
      expect(elsewhere.automationDetails.id.startsWith('kvmdoctor/hv2/')).toBe(true)
      for (const [i, r] of elsewhere.results.entries()) expect(r.partialFingerprints['kvmdoctorFinding/v2'], name).not.toBe(prints[i])
    }
  })
})

describe('SARIF details', () => {
  it('the GitHub rules catch what GitHub rejects (the checker is not vacuous)', async () => {
    const sarif = toSarif(await diagnosisOf(fixtureDir('flushed-and-forward-off'))) as Sarif
    const broken = structuredClone(sarif) as unknown as {runs: {results: {locations: unknown[]; ruleId: string}[]; tool: {driver: {rules: {helpUri?: string}[]}}; automationDetails?: unknown}[]}
    broken.runs[0].results[0].locations = [{logicalLocations: [{name: 'default'}]}]
    broken.runs[0].results[1].ruleId = 'no-such-rule'
    broken.runs[0].tool.driver.rules[0].helpUri = 'file:///usr/lib/node_modules/kvmdoctor/rules/x.md'
    delete broken.runs[0].automationDetails
    const problems = githubIngestionProblems(broken as unknown as Sarif)
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/file:\/\/ URI/),
        expect.stringMatching(/helpUri .* is not https/),
        expect.stringMatching(/automationDetails\.id/),
        expect.stringMatching(/^result 0 .*: a location without physicalLocation/),
        expect.stringMatching(/^result 1 \(no-such-rule\): ruleId not in tool\.driver\.rules/),
      ]),
    )
  })

  it('lists every rule in tool.driver, maps severity to level and security-severity, points at the file to change or at kvmdoctor/HOST/KIND/NAME', async () => {
    const sarif = toSarif(await diagnosisOf(fixtureDir('flushed-and-forward-off')))
    const driver = sarif.runs[0].tool.driver
    expect(driver.rules.map((r) => r.id)).toEqual(EVERY_RULE.map((r) => r.id))
    expect(driver.rules[0]).toMatchObject({id: 'ip-forward-disabled', help: {markdown: expect.stringContaining('**Fix.**')}})
    expect(driver.rules[0]).not.toHaveProperty('helpUri')
    const results = sarif.runs[0].results
    const fwd = results.find((r) => r.ruleId === 'ip-forward-disabled')!
    expect(fwd).toMatchObject({level: 'error', properties: {'security-severity': '9.5'}})
    expect(fwd.message.text).toContain('Fix: sysctl -w net.ipv4.ip_forward=1')
    expect(fwd.locations[0].physicalLocation.artifactLocation.uri).toBe('etc/sysctl.d/90-kvmdoctor.conf')
    const net = results.find((r) => r.ruleId === 'libvirt-firewall-rules-missing')!
    expect(net.locations[0].physicalLocation.artifactLocation.uri).toBe('etc/libvirt/qemu/networks/default.xml')
    expect(results.find((r) => r.ruleId === 'dhcp-checksum-rule-missing')?.level).toBe('note')
    expect(driver.rules[results.find((r) => r.ruleId === 'nat-masquerade-missing')!.ruleIndex as number].id).toBe('nat-masquerade-missing')
  })

  it("an alert's one-line fix is never a step that cuts guests off without the steps that bring them back", async () => {
    const killed = toSarif(await diagnosisOf(fixtureDir('dnsmasq-killed'))).runs[0].results.find((r) => r.ruleId === 'dhcp-server-not-running')!
    expect(killed.message.text).toMatch(/ Fix: virsh net-destroy default && virsh net-start default && ip link set vnet\d+ master virbr0 up && ip link set vnet\d+ master virbr0 up$/)
  })

  it('a finding with no file to change is at kvmdoctor/HOST/KIND/NAME', async () => {
    const sarif = toSarif(await diagnosisOf(fixtureDir('bridge-down')))
    const down = sarif.runs[0].results.find((r) => r.ruleId === 'link-down')!
    expect(down.locations[0].physicalLocation.artifactLocation.uri).toBe('kvmdoctor/vm/link/virbr0')
  })

  it('helpUri and informationUri only from KVMDOCTOR_DOCS_URL, and only https', async () => {
    const d = await diagnosisOf(fixtureDir('healthy'))
    const driver = toSarif(d, docsBaseUrl({KVMDOCTOR_DOCS_URL: 'https://docs.example.org/kvmdoctor/'})).runs[0].tool.driver
    expect(driver.informationUri).toBe('https://docs.example.org/kvmdoctor/README.md')
    expect(driver.rules.find((r) => r.id === 'link-down')!.helpUri).toBe('https://docs.example.org/kvmdoctor/rules/link-down.md')
    expect(validate(toSarif(d, docsBaseUrl({KVMDOCTOR_DOCS_URL: 'https://docs.example.org/kvmdoctor'})))).toBe(true)
    for (const bad of ['file:///opt/kvmdoctor', 'http://docs.example.org', 'docs/rules']) expect(() => docsBaseUrl({KVMDOCTOR_DOCS_URL: bad})).toThrow(UserError)
  })

  it('an alert survives a guest restart: a new tap name keeps its location and fingerprint', async () => {
    const before = await withPolicyRules('tap-detached')
    const after = await withTapRenamed('tap-detached', recordedTap('tap-detached'), 'vnet97')
    const of = async (dir: string) => toSarif(await diagnosisOf(dir)).runs[0].results.find((r) => r.ruleId === 'tap-not-attached')!
    const [a, b] = [await of(before), await of(after)]
    expect(a.locations[0].logicalLocations[0].name).toBe(`kdlab-web01/${recordedTap('tap-detached')}`)
    expect(b.locations[0].logicalLocations[0].name).toBe('kdlab-web01/vnet97')
    expect(b.locations[0].physicalLocation.artifactLocation.uri).toBe(a.locations[0].physicalLocation.artifactLocation.uri)
    expect(b.partialFingerprints).toEqual(a.partialFingerprints)
  })
})

describe('SARIF artifact URIs from hostile names', () => {
  it('never hold "..": a name is one segment, and no segment is a dot segment', () => {
    const names: [string, string][] = [
      ['network', '..'],
      ['network', '../../../../etc/passwd'],
      ['domain', '.'],
      ['domain', '..%2F..'],
      ['interface', '../x/vnet0'],
      ['link', '../../root/.ssh/authorized_keys'],
      ['element', 'a/../../b'],
    ]
    for (const host of ['vm', '..', '../..']) {
      for (const [kind, name] of names) {
        const entity = {kind: kind as never, name}
        const file = fileOf(entity)
        const uri = artifactUri(host, {entity, stable: {ruleId: 'link-down', name, ...(file ? {file} : {})}})
        expect(uri, `${kind} ${name} on ${host}`).not.toContain('..')
        expect(uri.startsWith('/') || /^[a-z][a-z0-9+.-]*:/i.test(uri), uri).toBe(false)
        for (const s of uri.split('/')) expect(['.', '..', ''].includes(decodeURIComponent(s)), `${uri}: segment ${s}`).toBe(false)
      }
    }
    // Ordinary names read as they did.
    const on = (kind: 'network' | 'domain', name: string) => artifactUri('vm', {entity: {kind, name}, stable: {ruleId: 'x', name, file: fileOf({kind, name})}})
    expect(on('network', 'default')).toBe('etc/libvirt/qemu/networks/default.xml')
    expect(on('domain', 'web.prod')).toBe('etc/libvirt/qemu/web.prod.xml')
  })
})
