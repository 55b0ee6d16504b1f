/**
 * JUnit XML as Jenkins (xunit's junit-10.xsd) and Ant-schema readers take it,
 * on every recording, validated by xmllint; testcases only where a rule applies.
 */
import {execFileSync} from 'node:child_process'
import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {XMLParser} from 'fast-xml-parser'
import {beforeAll, describe, expect, it} from 'vitest'
import {renderJunit} from '../reports/junit.js'
import type {DiagnosisRun as Diagnosis} from '../src/core/diagnose.js'
import {runDiagnose} from '../src/core/diagnose-service.js'
import {findingKey} from '../src/core/engine.js'
import {NO_CONFIG_DIR, ROOT, fixtureDir} from './helpers.js'
import {RECORDINGS, findTool, missingTool, withPolicyRules, withoutCaptures} from './tools.js'

const diagnosisOf = (from: string, ignoreFile?: string) =>
  runDiagnose({from, ignoreFile, timeoutMs: 5000, options: {active: false, libvirtUri: 'qemu:///system'}, version: 'test'}, {now: () => new Date('2026-11-28T12:00:00Z'), configDir: NO_CONFIG_DIR})

const XSD = {xunit: join(ROOT, 'test/data/junit-xsd/jenkins-xunit-junit-10.xsd'), ant: join(ROOT, 'test/data/junit-xsd/ant-junit.xsd')}
const xmllint = findTool('xmllint')

/** xmllint's verdict on files against one schema: the lines it complains with, [] when all validate. */
function schemaErrors(xsd: string, files: string[]): string[] {
  try {
    execFileSync(xmllint!, ['--noout', '--schema', xsd, ...files], {stdio: ['ignore', 'pipe', 'pipe']})
    return []
  } catch (error) {
    return String((error as {stderr?: Buffer}).stderr ?? error).split('\n').filter((l) => l && !l.endsWith(' validates'))
  }
}

interface Case {
  '@_classname': string
  '@_name': string
  failure?: Record<string, string>
  error?: Record<string, string>
  skipped?: Record<string, string>
}
const casesOf = (xml: string) => new XMLParser({ignoreAttributes: false, isArray: (name) => name === 'testcase'}).parse(xml).testsuites.testsuite as Record<string, string> & {testcase?: Case[]}

describe('JUnit on every recording', () => {
  const diagnoses = new Map<string, Diagnosis>()
  beforeAll(async () => {
    for (const name of RECORDINGS) {
      diagnoses.set(name, await diagnosisOf(fixtureDir(name)))
      diagnoses.set(`${name}+ip-rules`, await diagnosisOf(await withPolicyRules(name)))
    }
  })

  it.skipIf(!xmllint)(xmllint ? 'is valid against the Jenkins xunit junit-10.xsd and the Ant JUnit schema (xmllint)' : missingTool('xmllint', 'libxml2-utils'), async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kd-junit-'))
    const files: string[] = []
    for (const [name, d] of diagnoses) {
      const file = join(dir, `${name}.xml`)
      await writeFile(file, renderJunit(d))
      files.push(file)
    }
    expect(schemaErrors(XSD.xunit, files)).toEqual([])
    expect(schemaErrors(XSD.ant, files)).toEqual([])
  })

  it('a rule is never reported where it does not apply; every finding lies where its rule applies', () => {
    for (const [name, d] of diagnoses) {
      const applicable = new Set(d.applicable.map((c) => findingKey({id: c.ruleId, entity: c.entity})))
      for (const f of d.findings) expect(applicable.has(findingKey(f)), `${name}: ${findingKey(f)}`).toBe(true)
      const cases = casesOf(renderJunit(d)).testcase ?? []
      expect(cases.length, name).toBe(d.applicable.length + d.notChecked.length)
      const pairs = cases.map((c) => `${c['@_classname']} on ${c['@_name']}`)
      expect(pairs.filter((p) => /^kvmdoctor\.(link-down|mtu-mismatch|stp-forward-delay|bridge-netfilter-enabled) on link lo$/.test(p)), name).toEqual([])
      // datapath rules only on the netfilter elements of their hook and backend
      expect(pairs.filter((p) => /^kvmdoctor\.(iptables-forward-drop|nft-forward-drop|host-input-blocks-dhcp-dns) on element (?!(iptables|ip6tables|iptables-legacy|nft) )/.test(p)), name).toEqual([])
    }
    // The recordings exercise it: the engine checks every element rule on every element ...
    const elementCases = (name: string) => (casesOf(renderJunit(diagnoses.get(name)!)).testcase ?? []).filter((c) => c['@_name'].startsWith('element ')).map((c) => c['@_classname'])
    const killed = diagnoses.get('dnsmasq-killed+ip-rules')!
    expect(killed.checked.filter((c) => c.ruleId === 'iptables-forward-drop' && c.entity.name.startsWith('no DHCP server on virbr0'))).toHaveLength(1)
    // ... but a missing DHCP listener is no FORWARD chain: no iptables-forward-drop testcase on it
    expect(elementCases('dnsmasq-killed+ip-rules')).toEqual([])
    expect(elementCases('bridged-forward-drop+ip-rules')).toEqual(['kvmdoctor.iptables-forward-drop', 'kvmdoctor.ipv6-forward-drop'])
    expect(elementCases('nft-forward-drop+ip-rules')).toEqual(['kvmdoctor.nft-forward-drop', 'kvmdoctor.ipv6-forward-drop'])
  })
})

describe('JUnit outcomes', () => {
  it('failure for a finding, error for not checked, skipped for suppressed, pass otherwise; counts on the suite', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kd-junit-'))
    const ignore = join(dir, 'ignore.yaml')
    await writeFile(ignore, 'ignore:\n  - rule: guest-agent-missing\n    reason: lab guests have no agent\n    expires: 2099-01-01\n')
    // As a host where `ip rule` could not be read: the datapath rules are not checked.
    const d = await diagnosisOf(await withoutCaptures('dnsmasq-killed', (c) => c.argv?.join(' ') === 'ip -j rule show'), ignore)
    const xml = renderJunit(d)
    const suite = casesOf(xml)
    const cases = suite.testcase!
    expect(Number(suite['@_tests'])).toBe(cases.length)
    const failures = cases.filter((c) => c.failure)
    expect(failures).toHaveLength(d.findings.length)
    expect(Number(suite['@_failures'])).toBe(d.findings.length)
    const dhcp = cases.find((c) => c['@_classname'] === 'kvmdoctor.dhcp-server-not-running' && c['@_name'] === 'network default')!
    expect(dhcp.failure!['@_type']).toBe('critical')
    // Without systemd the network is restarted, and the guests it cuts off re-plugged right after.
    expect(dhcp.failure!['#text']).toContain('fix: virsh net-destroy default')
    expect(dhcp.failure!['#text']).toMatch(/fix: ip link set \S+ master virbr0 up/)
    // ip-rules could not be read: the datapath rules were not checked, and that is an error, not a skip
    const errors = cases.filter((c) => c.error)
    expect(errors.length).toBe(d.notChecked.length)
    expect(errors.length).toBeGreaterThan(0)
    expect(Number(suite['@_errors'])).toBe(errors.length)
    expect(errors.find((c) => c['@_classname'] === 'kvmdoctor.iptables-forward-drop')).toMatchObject({'@_name': 'all entities', error: {'@_type': 'not-checked', '@_message': expect.stringMatching(/^not checked: probe ip-rules unavailable/)}})
    const skipped = cases.filter((c) => c.skipped)
    expect(skipped.length).toBe(d.suppressed.length)
    expect(new Set(skipped.map((c) => c['@_classname']))).toEqual(new Set(['kvmdoctor.guest-agent-missing']))
    expect(skipped[0].skipped!['@_message']).toBe('suppressed until 2099-01-01: lab guests have no agent')
    expect(Number(suite['@_skipped'])).toBe(d.suppressed.length)
    expect(cases.some((c) => c['@_classname'] === 'kvmdoctor.ip-forward-disabled' && !c.failure && !c.error && !c.skipped)).toBe(true)
    // Ant's schema wants a zone-less timestamp; <testsuites> carries no attributes
    expect(suite['@_timestamp']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/)
    expect(xml).toMatch(/<testsuites>\n/)
  })

  it.skipIf(!xmllint)(xmllint ? 'the schemas reject what the issue found (the validation is not vacuous)' : missingTool('xmllint', 'libxml2-utils'), async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kd-junit-'))
    const old = join(dir, 'old.xml')
    // kvmdoctor's JUnit before: counts and "skipped" on <testsuites>, no properties, no system-out
    await writeFile(old, '<?xml version="1.0"?>\n<testsuites name="kvmdoctor" tests="1" failures="0" errors="0" skipped="1"><testsuite name="kvmdoctor vm" tests="1" failures="0" errors="0" skipped="1" timestamp="2026-11-28T10:44:34.713Z" hostname="vm"><testcase classname="kvmdoctor.x" name="all" time="0"><skipped message="not checked"/></testcase></testsuite></testsuites>\n')
    expect(schemaErrors(XSD.xunit, [old]).join('\n')).toMatch(/attribute 'skipped' is not allowed/)
    expect(schemaErrors(XSD.ant, [old]).join('\n')).toMatch(/attribute 'name' is not allowed|timestamp|properties/)
  })
})
