/**
 * The node_exporter textfile on every recording: promtool accepts it, skipped
 * probes are not down, and finding series keep their labels across guest restarts.
 */
import {execFileSync} from 'node:child_process'
import {beforeAll, describe, expect, it} from 'vitest'
import {guestTaps} from '../src/derive/index.js'
import {dataOf} from '../probes/types.js'
import {renderPrometheus} from '../reports/prometheus.js'
import type {DiagnosisRun as Diagnosis} from '../src/core/diagnose.js'
import {runDiagnose} from '../src/core/diagnose-service.js'
import {NO_CONFIG_DIR, fixtureDir} from './helpers.js'
import {RECORDINGS, findTool, missingTool, withPolicyRules, recordedTap, withTapRenamed, withoutCaptures} from './tools.js'

const diagnosisOf = (from: string) =>
  runDiagnose({from, timeoutMs: 5000, options: {active: false, libvirtUri: 'qemu:///system'}, version: 'test'}, {now: () => new Date('2026-11-28T12:00:00Z'), configDir: NO_CONFIG_DIR})

const promtool = findTool('promtool')

/** promtool's lint of a textfile: its complaints, '' when it has none. */
function promtoolCheck(text: string): string {
  try {
    return execFileSync(promtool!, ['check', 'metrics'], {input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe']}).trim()
  } catch (error) {
    const e = error as {status?: number; stdout?: string; stderr?: string}
    return `exit ${e.status}: ${e.stdout ?? ''}${e.stderr ?? ''}`.trim()
  }
}

const samples = (text: string, metric: string) => text.split('\n').filter((l) => l.startsWith(`${metric}{`) || l.startsWith(`${metric} `))
const labelsOf = (line: string) => Object.fromEntries([...line.matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]))

describe('Prometheus textfile on every recording', () => {
  const diagnoses = new Map<string, Diagnosis>()
  beforeAll(async () => {
    for (const name of RECORDINGS) {
      diagnoses.set(name, await diagnosisOf(fixtureDir(name)))
      diagnoses.set(`${name}+ip-rules`, await diagnosisOf(await withPolicyRules(name)))
    }
  })

  it.skipIf(!promtool)(promtool ? 'passes promtool check metrics' : missingTool('promtool', 'prometheus'), () => {
    for (const [name, d] of diagnoses) expect(promtoolCheck(renderPrometheus(d)), name).toBe('')
    // promtool is not vacuous: it rejects a sample without help and a broken line
    expect(promtoolCheck('# TYPE kvmdoctor_x gauge\nkvmdoctor_x 1\n')).toMatch(/no help text/)
    expect(promtoolCheck('kvmdoctor_x{a="1"} one\n')).toMatch(/^exit 1: .*parsing error/)
  })

  it('one series per label set, no tap name and no address in any finding label', () => {
    let findings = 0
    for (const [name, d] of diagnoses) {
      const text = renderPrometheus(d)
      const lines = text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.replace(/ [^ ]+$/, ''))
      expect(new Set(lines).size, name).toBe(lines.length)
      const taps = [...guestTaps(dataOf(d.facts.libvirt)).keys()]
      for (const line of samples(text, 'kvmdoctor_finding')) {
        findings++
        for (const value of Object.values(labelsOf(line))) {
          expect(value, `${name}: ${line}`).not.toMatch(/\b\d{1,3}(\.\d{1,3}){3}\b/)
          for (const tap of taps) expect(value.split(/[/ ]/), `${name}: ${line}`).not.toContain(tap)
        }
      }
    }
    expect(findings).toBeGreaterThan(RECORDINGS.length)
  })

  it('a probe skipped on purpose is probe_skipped 1 and has no probe_up sample; a probe that failed is probe_up 0', async () => {
    // As a host where `ip rule` could not be read.
    const d = await diagnosisOf(await withoutCaptures('ip-forward-off', (c) => c.argv?.join(' ') === 'ip -j rule show'))
    expect(d.probes.find((p) => p.id === 'arp-scan')).toMatchObject({ok: false, skipped: true})
    const text = renderPrometheus(d)
    expect(text).toMatch(/^kvmdoctor_probe_skipped\{probe="arp-scan"\} 1$/m)
    expect(text).not.toMatch(/^kvmdoctor_probe_up\{probe="arp-scan"\}/m)
    expect(text).toMatch(/^kvmdoctor_probe_skipped\{probe="libvirt"\} 0$/m)
    // ip-rules could not be read: that one is down, not skipped
    expect(text).toMatch(/^kvmdoctor_probe_up\{probe="ip-rules"\} 0$/m)
    expect(text).toMatch(/^kvmdoctor_probe_skipped\{probe="ip-rules"\} 0$/m)
    expect(text).not.toMatch(/^kvmdoctor_probe_degraded\{probe="ip-rules"\}/m)
    expect(text).toMatch(/^kvmdoctor_probe_degraded\{probe="libvirt"\} 0$/m)
  })

  it('a probe up on part of its sources is probe_degraded 1: up is not whole', async () => {
    // A sosreport lists neither ipsets nor the legacy tables: the packet filter is up on part of its sources.
    const text = renderPrometheus(await diagnosisOf(fixtureDir('sos-flushed-and-forward-off')))
    expect(text).toMatch(/^kvmdoctor_probe_up\{probe="netfilter"\} 1$/m)
    expect(text).toMatch(/^kvmdoctor_probe_degraded\{probe="netfilter"\} 1$/m)
    // Which guests start at boot (also not in a sosreport) is one rule's unknown, not libvirt read in part.
    for (const probe of ['links', 'libvirt']) expect(text).toMatch(new RegExp(`^kvmdoctor_probe_degraded\\{probe="${probe}"\\} 0$`, 'm'))
  })

  it('findings, counts, the run timestamp', () => {
    const text = renderPrometheus(diagnoses.get('dnsmasq-killed')!)
    expect(text).toMatch(/^# TYPE kvmdoctor_finding gauge$/m)
    expect(text).toMatch(/^kvmdoctor_finding\{rule="dhcp-server-not-running",severity="critical",entity_kind="network",entity="default",domain="",mac="",network="default",bridge="virbr0",root_cause="true"\} 1$/m)
    expect(text).toMatch(/^kvmdoctor_finding\{rule="apipa-address",severity="[a-z]+",entity_kind="apipa",entity="kdlab-apipa01\/52:54:00:[0-9a-f:]+",domain="kdlab-apipa01",.*root_cause="false"\} 1$/m)
    expect(text).toMatch(/^kvmdoctor_findings\{severity="critical"\} 1$/m)
    expect(text).toMatch(/^kvmdoctor_probe_up\{probe="libvirt"\} 1$/m)
    const [stamp] = samples(text, 'kvmdoctor_last_run_timestamp_seconds')
    expect(stamp).toBe(`kvmdoctor_last_run_timestamp_seconds ${Math.floor(Date.parse(diagnoses.get('dnsmasq-killed')!.capturedAt) / 1000)}`)
  })
})

describe('Prometheus labels across a guest restart', () => {
  it('the same fault after the guest came back on another tap is the same series', async () => {
    const before = await withPolicyRules('tap-detached')
    const after = await withTapRenamed('tap-detached', recordedTap('tap-detached'), 'vnet97')
    const series = async (dir: string) => samples(renderPrometheus(await diagnosisOf(dir)), 'kvmdoctor_finding')
    const [a, b] = [await series(before), await series(after)]
    expect(a.some((l) => l.includes('rule="tap-not-attached"') && l.includes('entity="kdlab-web01/52:54:00:6b:64:01"'))).toBe(true)
    expect(b).toEqual(a)
  })
})
