/**
 * Reports never look greener than the evidence (issue 26), on recordings: one verdict, computed with
 * the findings, printed alike by every format; SKIP with why for every check that did not run;
 * severity and blast radius from what actually fails.
 */
import {describe, expect, it} from 'vitest'
import {type Format, render} from '../../reports/index.js'
import {checkCounts, checklist} from '../../reports/checks.js'
import {renderTerminal} from '../../reports/terminal.js'
import {diagnose} from '../../src/core/diagnose.js'
import {verdictOf} from '../../src/core/verdict.js'
import {ipInventory} from '../../src/core/ip-service.js'
import {ReplayRunner} from '../../src/core/snapshot.js'
import {fixtureDir, kvmdoctorCli, replayOptions} from '../helpers.js'
import {narrowToGuests} from '../../src/core/narrow.js'
import {gateDecision} from '../../src/core/gate.js'
import {findingKey} from '../../src/result/findings.js'
import type {CommandCapture} from '../../src/lib/runner.js'
import {alteredFixture} from '../hostile/helpers.js'
import {RECORDINGS, diagnosisOf} from './recordings.js'

const failed = (c: CommandCapture, stderr: string): CommandCapture => ({...c, output: '', stderr, exitCode: 1, error: `${c.argv.join(' ')}: exit 1: ${stderr.trim()}`, errorCode: 'exit-status'})

describe('the headline never claims more than was checked', () => {
  it('a firewall that cannot be read at all: NOT CHECKED naming it, in every format, exit 4', async () => {
    const {runner, options} = await alteredFixture('healthy', {run: (c) => (/^(iptables|ip6tables|nft|ipset|firewall-cmd)/.test(c.argv[0]) ? failed(c, 'Permission denied\n') : c)})
    const d = await diagnose({runner, options, version: 'test'})
    const gate = gateDecision(d, 'high')
    expect(gate.exitCode).toBe(4)
    expect(d.verdict).toMatchObject({status: 'not-checked', label: 'NOT CHECKED', health: 'warn'})
    expect(d.verdict.unread.join('\n')).toMatch(/netfilter could not be read \(iptables-save -c: exit 1: Permission denied\)/)
    expect(d.verdict.text).toMatch(/^NOT CHECKED {2}vm: .*netfilter could not be read/)
    const out = async (f: Format) => render(d, f, {showSuppressed: false, gate})
    expect(await out('text')).toMatch(/^! NOT CHECKED .*\n(.*\n)*! NOT CHECKED /)
    expect(await out('text')).not.toMatch(/✓ OK/)
    expect(await out('md')).toContain(`**! ${d.verdict.text}**`)
    expect(await out('html')).toContain('<div class="verdict warn">! NOT CHECKED')
    expect(JSON.parse(await out('json')).verdict).toMatchObject({status: 'not-checked', label: 'NOT CHECKED'})
    const sarif = JSON.parse(await out('sarif')).runs[0]
    expect(sarif.properties.verdict).toBe('not-checked')
    expect(sarif.invocations[0].executionSuccessful).toBe(false)
    expect(await out('junit')).toContain('<property name="kvmdoctor.verdict" value="not-checked"/>')
    expect(await out('prometheus')).toMatch(/^kvmdoctor_verdict\{verdict="not-checked"\} 1$/m)
    expect(await out('prometheus')).toMatch(/^kvmdoctor_verdict\{verdict="ok"\} 0$/m)
  })

  it('a healthy recording is OK in every format; a pass that rests on the LAN is OK of the host side only', async () => {
    const healthy = await diagnosisOf('healthy')
    // Recorded before the libvirt-hooks probe existed: that is named as not read, and outranks OK.
    expect(healthy.verdict.unread).toEqual([expect.stringMatching(/^libvirt-hooks could not be read \(.*predates this probe\)\)$/)])
    expect(healthy.verdict.status).toBe('not-checked')
    const read = {...healthy, probes: healthy.probes.filter((p) => p.id !== 'libvirt-hooks'), notChecked: []}
    healthy.verdict = verdictOf(read)
    // A NAT guest's reply comes back only if the upstream returns it by the way the request left: the host cannot see that.
    expect(healthy.verdict.status).toBe('ok-host-side')
    expect(healthy.verdict.beyondHost.join('\n')).toMatch(/the reply to .* arrives by kdlab-up0/)
    const recorded = await diagnosisOf('bridged-healthy')
    const bridged = {...recorded, verdict: verdictOf({...recorded, probes: recorded.probes.filter((p) => p.id !== 'libvirt-hooks'), notChecked: []})}
    expect(bridged.verdict.status).toBe('ok-host-side')
    expect(bridged.verdict.text).toMatch(/^OK \(host side; beyond the host not verified\)/)
    expect(bridged.verdict.beyondHost.length).toBeGreaterThan(0)
  })

  it('without --listen, the wire rules are SKIP with why in --checks, counted, as in the JSON; "all probes ran" is not claimed', async () => {
    const d = await diagnosisOf('healthy')
    const rows = checklist(d)
    const rogue = rows.find((r) => r.ruleId === 'rogue-dhcp-server')
    expect(rogue).toMatchObject({status: 'SKIP', detail: expect.stringMatching(/--listen/)})
    const skippedProbes = d.probes.filter((p) => p.skipped).map((p) => p.id)
    expect(skippedProbes).toContain('wire')
    expect(checkCounts(rows).SKIP).toBe(new Set([...d.skipped, ...d.notChecked].map((n) => n.ruleId)).size)
    expect(checkCounts(rows).SKIP).toBeGreaterThan(0)
    const text = renderTerminal(d, {checks: true})
    expect(text).toMatch(new RegExp(`${rows.length} checks: .* ${checkCounts(rows).SKIP} skipped`))
    expect(text).not.toMatch(/all probes ran/)
    expect(JSON.parse(await render(d, 'json', {showSuppressed: false})).verdict.skipped).toEqual(expect.arrayContaining([{probe: 'wire', why: 'needs --listen'}]))
    expect(text).toMatch(/skipped: wire \(needs --listen\)/)
  })
})

describe('severity and blast radius from impact', () => {
  it('bridged-forward-drop: the banner is the worst root, and no root is milder than what it explains', async () => {
    const d = await diagnosisOf('bridged-forward-drop')
    const byKey = new Map(d.findings.map((f) => [findingKey(f), f]))
    const roots = d.verdict.roots.map((k) => byKey.get(k)!)
    const weight = (s: string) => ['info', 'low', 'medium', 'high', 'critical'].indexOf(s)
    expect(d.verdict.status).toBe(roots.map((f) => f.severity).sort((a, b) => weight(b) - weight(a))[0])
    for (const f of d.findings) for (const k of f.explains) expect(weight(f.severity)).toBeGreaterThanOrEqual(weight(byKey.get(k)!.severity))
    expect(roots[0]).toMatchObject({id: 'bridge-netfilter-enabled', severity: 'critical'})
  })

  it('mark-random-drop: half the forwarded packets dropped is an intermittent failure, high, exit 1', async () => {
    const d = await diagnosisOf('mark-random-drop')
    expect(d.verdict.status).toBe('high')
    expect(gateDecision(d, 'high').exitCode).toBe(1)
  })

  it('dhcp-range-exhausted: the full range cuts off the one guest left without an address, not the three it serves', async () => {
    const d = await diagnosisOf('dhcp-range-exhausted')
    expect(d.findings.find((f) => f.id === 'dhcp-range-exhausted')?.blastRadius).toBe(1)
    const broken = new Set(d.flows.filter((f) => f.verdict === 'fail').map((f) => f.guest))
    expect([...broken]).toEqual(['kdlab-tiny03'])
  })
})

describe('a reply the network may deliver where strict rp_filter drops it is no pass', () => {
  it('rp-filter-asymmetric (the guest measured ping and TCP failing): the egress reply cannot be told, naming rp_filter on the other devices; the headline is not OK', async () => {
    const d = await diagnosisOf('rp-filter-asymmetric')
    const reply = d.flows.find((f) => f.kind === 'egress-reply')!
    expect(reply.verdict).toBe('indeterminate')
    expect(reply.decidedBy).toMatchObject({name: 'reply arrival', detail: expect.stringMatching(/by eth0 or kdlab-rp0, strict rp_filter drops it/)})
    expect(d.verdict.status).not.toMatch(/^ok/)
  })
})

describe('the topology marks ✗ only with the finding that says why', () => {
  it.each(RECORDINGS)('%s: a tap or bridge missing from the link table is ✗ only with a finding at high or above', async (name) => {
    const d = await diagnosisOf(name)
    const t = d.topology()
    // A guest's failing flows name the element a finding stands for; taps and bridges carry theirs.
    const nodes = [...t.bridges, ...t.bridges.flatMap((b) => b.taps)]
    const unexplained = nodes.filter((n) => n.health === 'fail' && !n.exists && !n.findings.some((f) => f.severity === 'high' || f.severity === 'critical')).map((n) => n.id)
    expect(unexplained).toEqual([])
  })

  it('rp-filter-strict (a namespace host: libvirt\'s bridge and tap are in another namespace): no ✗ on them', async () => {
    const t = (await diagnosisOf('rp-filter-strict')).topology()
    expect(t.bridges.find((b) => b.name === 'virbr0')?.health).toBe('unknown')
    expect(t.bridges.flatMap((b) => b.taps).map((x) => x.health)).not.toContain('fail')
  })
})

describe('diagnose and ip agree on every recording', () => {
  it.each(RECORDINGS)('%s: a guest ip calls broken has a finding, no passing flows when it has no address, and fails diagnose\'s gate at medium', async (name) => {
    const d = await diagnosisOf(name)
    const runner = await ReplayRunner.open(fixtureDir(name))
    const inventory = await ipInventory(runner, replayOptions(runner))
    const broken = [...new Set(inventory.rows.filter((r) => r.verdict !== 'ok' && r.verdict !== 'shut off' && r.verdict !== 'stale').map((r) => r.domain))]
    const unaddressed = new Set(inventory.rows.filter((r) => ['no address', 'APIPA', 'DHCP unanswered'].includes(r.verdict)).map((r) => r.domain))
    const about = (f: (typeof d.findings)[number], guest: string) =>
      f.context?.domain === guest || [f.entity.name, f.summary, ...f.evidence].some((t) => t.includes(guest)) || d.flows.some((fl) => fl.guest === guest && fl.verdict !== 'pass' && fl.decidedBy?.element?.text === f.entity.name)
    const unexplained = broken.filter((guest) => {
      // A guest without an address has no passing flows (but the DHCP exchange that would give it one).
      const passing = d.flows.filter((f) => f.guest === guest && f.verdict === 'pass' && !f.kind.startsWith('dhcp'))
      return (unaddressed.has(guest) && passing.length > 0) || !d.findings.some((f) => f.severity !== 'info' && about(f, guest))
    })
    expect(unexplained).toEqual([])
    // ip has no threshold: a guest it calls broken is a problem diagnose reports at medium or above.
    if (broken.length > 0) expect(gateDecision(d, 'medium').exitCode).not.toBe(0)
  })
})

describe('diagnose GUEST… narrows the report to those guests', () => {
  it('wire-no-address: the healthy guest alone is not failed by the other guest; the unaddressed one keeps its finding', async () => {
    const d = await diagnosisOf('wire-no-address')
    const web = narrowToGuests(d, ['kdlab-web01'])
    expect(web.findings.filter((f) => f.severity !== 'info')).toEqual([])
    expect(new Set(web.flows.map((f) => f.guest))).toEqual(new Set(['kdlab-web01']))
    expect(web.verdict.status).not.toMatch(/^(critical|high|medium|low)$/)
    expect(gateDecision(web, 'high').exitCode).not.toBe(1)
    const v6 = narrowToGuests(d, ['kdlab-v6only01'])
    expect(v6.findings.map((f) => f.id)).toContain('guest-flow-blocked')
    expect(v6.verdict.status).toBe('critical')
  })

  it('bridged-forward-drop: the host-wide causes that reach the guest are kept with its symptoms', async () => {
    const d = narrowToGuests(await diagnosisOf('bridged-forward-drop'), ['kdlab-lan01'])
    expect(d.findings.map((f) => f.id)).toEqual(expect.arrayContaining(['bridge-netfilter-enabled', 'iptables-forward-drop', 'apipa-address', 'dhcp-no-offer']))
    expect(d.flows.every((f) => f.guest === 'kdlab-lan01')).toBe(true)
  })

  it('the CLI: diagnose GUEST narrows (exit 0 for the healthy one); an unknown guest is exit 2 with the guests and a "did you mean"', async () => {
    const ok = await kvmdoctorCli(['diagnose', '--from', fixtureDir('wire-no-address'), 'kdlab-web01', '--format', 'json', '--allow-unchecked'])
    expect(ok.exitCode).toBe(0)
    expect(new Set(JSON.parse(ok.stdout).flows.map((f: {guest: string}) => f.guest))).toEqual(new Set(['kdlab-web01']))
    const bad = await kvmdoctorCli(['diagnose', '--from', fixtureDir('wire-no-address'), 'kdlab-web1'])
    expect(bad.exitCode).toBe(2)
    expect(bad.stderr).toMatch(/no guest named kdlab-web1 on vm\. Did you mean kdlab-web01 \(not kdlab-web1\)\? Guests: kdlab-v6only01, kdlab-web01\./)
  }, 60_000)
})
