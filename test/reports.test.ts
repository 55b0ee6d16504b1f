import {Marked} from 'marked'
import {describe, expect, it} from 'vitest'
import {checklist} from '../reports/checks.js'
import {mdCode, mdText, mermaidText} from '../reports/escape.js'
import {renderHtml} from '../reports/html.js'
import {renderTable, stringWidth, wrapLine} from '../reports/layout.js'
import {renderMarkdown} from '../reports/markdown.js'
import {colorLevel, makeStyle} from '../reports/style.js'
import {renderTerminal} from '../reports/terminal.js'
import {renderText} from '../reports/text.js'
import {diagnosisOf} from './reports/recordings.js'
import {recordedTap} from './tools.js'

// eslint-disable-next-line no-control-regex
const ANSI = /\u001B\[[0-9;]*m/g
const strip = (s: string) => s.replace(ANSI, '')

describe('text report (pipes)', () => {
  it('puts the verdict first and last, symptoms on branches under their root cause, no colour', async () => {
    const text = renderText(await diagnosisOf('dnsmasq-killed'))
    const lines = text.trimEnd().split('\n')
    // (recorded with --listen: both guests' unanswered DHCP are symptoms of the dead dnsmasq too)
    // The recording predates the libvirt-hooks probe: what it would read is named as not read; and its capture the
    // answers guests get: guest-dns-unanswered and ipv6-dad-failed are not checked either.
    expect(lines[0]).toBe('✗ CRITICAL  vm: 1 root cause (1 critical, 3 high, 2 info); libvirt-hooks could not be read; 3 rules not checked')
    expect(lines.at(-1)).toBe(lines[0])
    expect(text).toMatch(/^1\. \[CRITICAL\] dhcp-server-not-running \(network default\)$/m)
    expect(text).toMatch(/^├─ 2\. \[HIGH\] apipa-address \(apipa kdlab-apipa01 169\.254\.\d+\.\d+\)$/m)
    expect(text).toMatch(/^├─ 3\. \[HIGH\] dhcp-no-offer \(interface kdlab-apipa01\/vnet\d+\)$/m)
    expect(text).toMatch(/^└─ 4\. \[HIGH\] dhcp-no-offer \(interface kdlab-web01\/vnet\d+\)$/m)
    expect(text).toMatch(/^│ {2}fix: virsh net-destroy default$/m)
    expect(text).toMatch(/^│ {2}fix: ip link set \S+ master virbr0 up$/m)
    expect(text).not.toMatch(ANSI)
    expect(text).not.toMatch(/```|^#/m)
  })

  it('ends with "root cause → run this": each root cause and its commands, after the one info line', async () => {
    const text = renderText(await diagnosisOf('flushed-and-forward-off'))
    const tail = text.slice(text.indexOf('Root cause → run this'))
    expect(tail.split('\n').slice(0, 6)).toEqual([
      'Root cause → run this',
      '1. CRITICAL ip-forward-disabled (host vm) · affects 1 running guest',
      '   sysctl -w net.ipv4.ip_forward=1',
      "   printf '%s\\n' 'net.ipv4.ip_forward = 1' >> /etc/sysctl.d/90-kvmdoctor.conf",
      '2. CRITICAL libvirt-firewall-rules-missing (network default) · affects 1 running guest · explains 2 findings',
      '   systemctl restart libvirtd',
    ])
    // Info findings read as one line, just before the summary, and nowhere else.
    expect(text.match(/guest-agent-missing/g)).toHaveLength(1)
    expect(text.indexOf('[INFO] guest-agent-missing on kdlab-web01')).toBeLessThan(text.indexOf('Root cause → run this'))
  })

  it('reads many info findings of one rule as one line (JSON keeps them all)', async () => {
    const d = await diagnosisOf('dhcp-range-exhausted')
    const agents = d.findings.filter((f) => f.id === 'guest-agent-missing')
    expect(agents.length).toBeGreaterThan(3)
    const text = renderText(d)
    expect(text.match(/guest-agent-missing/g)).toHaveLength(1)
    expect(text).toMatch(/^\[INFO\] .*guest-agent-missing on kdlab-\S+, /m)
    expect(text).toContain('1. [HIGH] dhcp-range-exhausted (network kdlab-tiny)')
  })

  it('groups rules not checked by reason and hints at root when probes lacked privileges', async () => {
    const d = await diagnosisOf('healthy')
    d.probes.push({id: 'iptables', ok: false, durationMs: 0, error: 'iptables-save: exit 4: Permission denied (you must be root)'})
    d.notChecked.push({ruleId: 'iptables-forward-drop', entity: null, reason: 'probe iptables unavailable: denied'}, {ruleId: 'firewall-backend-mismatch', entity: null, reason: 'probe iptables unavailable: denied'})
    const text = renderText(d)
    expect(text).toContain('hint: iptables could not be read without privileges: run kvmdoctor as root for a full diagnosis.')
    expect(text).toMatch(/^Not checked:\n( {2}.*\n)* {2}probe iptables unavailable: denied: iptables-forward-drop, firewall-backend-mismatch$/m)
  })

  it("libvirt unread: a bridge is not called one with no libvirt network (nothing says so)", async () => {
    const d = await diagnosisOf('healthy')
    const seen = renderText(d)
    expect(seen).not.toContain('(no libvirt network)')
    const topology = d.topology()
    const text = renderText({...d, topology: () => ({...topology, networks: [], bridges: topology.bridges.map((b) => ({...b, network: null})), libvirtUnavailable: 'virsh: permission denied'})})
    expect(text).toMatch(/^└─ \S+ bridge virbr0 .*mtu 1500.*$/m)
    expect(text).not.toContain('(no libvirt network)')
  })

  it('draws the topology with guests under their bridge and where their flows stop', async () => {
    const text = renderText(await diagnosisOf('bridged-forward-drop', {policyRules: true}))
    const topo = text.slice(text.indexOf('Topology'))
    expect(topo).toMatch(/^└─ ✗ bridge kdlab-br0 .*\(no libvirt network\)/m)
    expect(topo).toMatch(/^ {3}└─ ✗ tap vnet\d+ → kdlab-lan01 {2}running {2}52:54:00:6b:64:10 {2}169\.254\.101\.17 {2}APIPA/m)
    expect(topo).toContain('✗ dhcp, dhcp-reply stop at netfilter forward (br_netfilter): iptables -t filter chain FORWARD (hook forward, priority 0) policy drop')
    // Without a lease it has no address to send from: its other flows stop there, on the same element.
    expect(topo).toContain('✗ egress, egress-reply stop at guest address: iptables -t filter chain FORWARD (hook forward, priority 0) policy drop')
  })
})

describe('terminal report', () => {
  it('colours severities apart, and not at level 0', async () => {
    const d = await diagnosisOf('mtu-mismatch')
    d.findings[0].severity = 'critical'
    const coloured = renderTerminal(d, {style: makeStyle(1), width: 100})
    const critical = makeStyle(1).severity('critical', '[CRITICAL]')
    expect(coloured).toContain(critical)
    expect(makeStyle(1).severity('medium', '[MEDIUM]')).not.toBe(makeStyle(1).severity('critical', '[MEDIUM]'))
    expect(renderTerminal(d, {style: makeStyle(0), width: 100})).not.toMatch(ANSI)
    expect(strip(coloured)).toBe(renderTerminal(d, {style: makeStyle(0), width: 100}))
  })

  it('wraps prose to the width between words; fix commands stay whole on their line', async () => {
    const d = await diagnosisOf('flushed-and-forward-off')
    const out = renderTerminal(d, {width: 80})
    const fixes = new Set(d.findings.flatMap((f) => f.fix))
    for (const line of out.split('\n')) {
      if (stringWidth(line) <= 80) continue
      expect([...fixes].some((x) => line.endsWith(x)), `too wide and not a command: ${line}`).toBe(true)
    }
    // Every word of a summary is still there, whole.
    const words = d.findings[1].summary.split(' ')
    const flat = out.replace(/\n[│ ]*/g, ' ')
    for (const w of words) expect(flat).toContain(w)
  })

  it('NO_COLOR, FORCE_COLOR and --color / --no-color decide colour, the flag first', () => {
    expect(colorLevel({env: {}, isTTY: false})).toBe(0)
    expect(colorLevel({env: {NO_COLOR: '1'}, isTTY: true})).toBe(0)
    expect(colorLevel({env: {NO_COLOR: ''}, isTTY: true})).toBeGreaterThan(0)
    expect(colorLevel({env: {FORCE_COLOR: '1'}, isTTY: false})).toBe(1)
    expect(colorLevel({env: {FORCE_COLOR: '3', NO_COLOR: '1'}, isTTY: false})).toBe(3)
    expect(colorLevel({env: {FORCE_COLOR: '0'}, isTTY: true})).toBe(0)
    expect(colorLevel({flag: false, env: {FORCE_COLOR: '1'}, isTTY: true})).toBe(0)
    expect(colorLevel({flag: true, env: {NO_COLOR: '1'}, isTTY: false})).toBeGreaterThan(0)
    expect(colorLevel({env: {TERM: 'dumb'}, isTTY: true})).toBe(0)
  })

  it('--checks lists every check with PASS / WARN / FAIL / SKIP and why skipped', async () => {
    const d = await diagnosisOf('flushed-and-forward-off')
    d.notChecked.push({ruleId: 'iptables-forward-drop', entity: null, reason: 'probe ip-rules unavailable: ip -j rule show: not recorded in this snapshot'})
    const text = renderText(d, {checks: true})
    expect(text).toMatch(/^FAIL +ip-forward-disabled +host vm \(critical\)$/m)
    expect(text).toMatch(/^FAIL +libvirt-firewall-rules-missing +default \(critical\)$/m)
    expect(text).toMatch(/^WARN +dhcp-checksum-rule-missing +default \(low\)$/m)
    expect(text).toMatch(/^PASS +link-down +\d+ links$/m)
    expect(text).toMatch(/^SKIP +iptables-forward-drop +probe ip-rules unavailable: /m)
    expect(text).toMatch(/^WARN +guest-agent-missing +kdlab-web01 \(info\)$/m)
    expect(text).toMatch(/^\d+ checks: \d+ pass, 2 warn, 3 fail, 12 skipped$/m)
    // Without --listen the wire rules checked nothing: SKIP with why, counted (10 of the 12; hook-rules-lost is another, its probe newer than the recording).
    expect(text).toMatch(/^SKIP +rogue-dhcp-server +probe wire skipped: listening is off/m)
    expect(text).toContain('Root cause → run this')
  })
})

describe('checklist', () => {
  it('a healthy host shows what was verified; suppressed findings are skipped with the reason', async () => {
    const d = await diagnosisOf('healthy')
    const rows = checklist(d)
    expect(rows.filter((r) => r.status === 'FAIL')).toEqual([])
    expect(rows.find((r) => r.ruleId === 'ip-forward-disabled')).toMatchObject({status: 'PASS', detail: 'host vm'})
    expect(rows.find((r) => r.ruleId === 'apipa-address')).toMatchObject({status: 'PASS', detail: 'nothing to check: no self-assigned addresses'})
    // Named by what the rule runs on: the host has links, not an Open vSwitch bridge.
    expect(rows.find((r) => r.ruleId === 'ovs-secure-no-controller')).toMatchObject({status: 'PASS', detail: 'nothing to check: no Open vSwitch bridges'})
    expect(rows.some((r) => r.ruleId.startsWith('expect-'))).toBe(false)
    const killed = await diagnosisOf('dnsmasq-killed')
    const f = killed.findings.find((x) => x.id === 'dhcp-server-not-running')!
    killed.findings = killed.findings.filter((x) => x !== f)
    killed.suppressed.push({finding: f, entry: {rule: f.id, reason: 'maintenance', expires: '2099-01-01'}} as (typeof killed.suppressed)[number])
    expect(checklist(killed).find((r) => r.ruleId === 'dhcp-server-not-running')).toMatchObject({status: 'SKIP', detail: 'default skipped: suppressed until 2099-01-01: maintenance'})
  })
})

describe('Markdown', () => {
  const toHtml = (md: string) => new Marked().parse(md, {async: false}) as string

  it('host text survives rendering: XML in evidence and notes, Markdown in names', async () => {
    const d = await diagnosisOf('nat-pinned-missing-dev')
    const md = renderMarkdown(d)
    const rendered = toHtml(md)
    expect(rendered).toContain("<code>virsh net-dumpxml kdlab-pinned: &lt;forward mode=&#39;nat&#39; dev=&#39;kdlab-nodev&#39;/&gt;</code>")
    expect(rendered).toContain('&lt;forward mode=&#39;nat&#39; dev=&#39;kdlab-nodev&#39;/&gt; makes libvirt masquerade')
    expect(rendered).not.toMatch(/<forward/)
    d.host = '<script>alert(1)</script> *bold* [x](y)'
    const hostile = toHtml(renderMarkdown(d))
    expect(hostile).not.toContain('<script>')
    expect(hostile).toContain('&lt;script&gt;alert(1)&lt;/script&gt; *bold* [x](y)')
  })

  it('escapes line starts, pipes and backticks', () => {
    expect(toHtml(`- ${mdText('- not a list | and a pipe')}`)).toContain('<li>- not a list | and a pipe</li>')
    expect(toHtml(mdCode('a `b` c'))).toContain('<code>a `b` c</code>')
    expect(toHtml(`# ${mdText('1. heading')}`)).toContain('<h1>1. heading</h1>')
  })

  it('has fix commands in code blocks, notes apart, a Mermaid topology and the checklist', async () => {
    const md = renderMarkdown(await diagnosisOf('tap-detached'))
    expect(md).toContain(`Fix:\n\n\`\`\`sh\nip link set ${recordedTap('tap-detached')} master virbr0 up\n\`\`\``)
    expect(md).toContain('Note:\n\n- systemctl restart libvirtd re-attaches the taps of all running guests at once')
    expect(md).toMatch(/```mermaid\nflowchart LR\n/)
    expect(md).toMatch(/n\d+\["<b>kdlab-web01<\/b><br\/>running<br\/>.*⚠ 1\. tap-not-attached"\]:::fail/)
    expect(md).toMatch(new RegExp(`n\\d+ -->\\|"${recordedTap('tap-detached')} on no bridge"\\| n\\d+`))
    expect(md).toContain(`| FAIL | \`tap-not-attached\` | kdlab-web01/${recordedTap('tap-detached')} (critical) |`)
  })

  it('Mermaid labels keep quotes, tags and # as text', () => {
    expect(mermaidText(`<forward mode="nat"/> #1 & \`x\``)).toBe('#60;forward mode=#34;nat#34;/#62; #35;1 #38; #96;x#96;')
  })
})

describe('HTML', () => {
  it('is one self-contained page: no fetch allowed, every host string escaped', async () => {
    const d = await diagnosisOf('nat-pinned-missing-dev')
    d.host = '<img src=x onerror=alert(1)>'
    const page = renderHtml(d)
    expect(page).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;sha256-[^"]+; script-src &#39;sha256-/)
    expect(page).not.toMatch(/<(link|img|iframe)\b|\bsrc=["']?https?:|@import|url\(http/)
    expect(page).not.toContain('<img src=x')
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;')
    expect(page).toContain('&lt;forward mode=&#39;nat&#39; dev=&#39;kdlab-nodev&#39;/&gt;')
    expect(page).not.toMatch(/<forward/)
  })

  it('has the topology SVG, the findings, the checklist and the flows with the stopping hop marked', async () => {
    const page = renderHtml(await diagnosisOf('flushed-and-forward-off', {policyRules: true}))
    expect(page).toMatch(/<svg [^>]*class="topology"/)
    expect(page).toMatch(/<g class="node host fail" id="node-host">/)
    expect(page).toMatch(/<a href="#finding-1"><text class="finding critical"[^>]*>⚠ 1\. ip-forward-disabled<\/text><\/a>/)
    expect(page).toContain('id="finding-2"')
    expect(page).toMatch(/<section id="checks">[\s\S]*<td class="status FAIL">FAIL<\/td><td><code>ip-forward-disabled<\/code><\/td>/)
    expect(page).toMatch(/<tr class="stop"><td>\d+<\/td><td class="status fail">✗<\/td><td>forwarding<\/td><td>net\.ipv4\.ip_forward = 0: the host routes nothing/)
  })
})

describe('layout', () => {
  const columns = [
    {header: 'NAME', priority: 1},
    {header: 'WHERE', priority: 3},
    {header: 'WHAT', priority: 1, min: 10},
    {header: 'EXTRA', priority: 2},
  ]
  const rows = [['漢字のゲスト', 'virbr0', 'a long description that has to fold somewhere', 'xxxxxxxxxx']]

  it('tables fit the width: lowest priority dropped first, folded between words, wide characters counted', () => {
    const t = renderTable(columns, rows, {width: 40})
    expect(t.hidden).toEqual(['WHERE'])
    for (const l of t.lines) expect(stringWidth(l)).toBeLessThanOrEqual(40)
    expect(t.lines[0]).toMatch(/^NAME {10}WHAT +EXTRA$/)
    expect(t.lines.length).toBeGreaterThan(2)
    for (const word of rows[0][2].split(' ')) expect(t.lines.some((l) => l.includes(word)), word).toBe(true)
    expect(renderTable(columns, rows, {width: 40, wide: true}).hidden).toEqual([])
    expect(renderTable(columns, rows, {width: Number.POSITIVE_INFINITY}).lines[1]).toBe('漢字のゲスト  virbr0  a long description that has to fold somewhere  xxxxxxxxxx')
  })

  it('wraps with a hanging indent and keeps commands whole', () => {
    expect(wrapLine({label: 'evidence: ', text: 'one two three four five six seven'}, 30)).toEqual(['evidence: one two three four', '          five six seven'])
    expect(wrapLine('  indented words that wrap', 16)).toEqual(['  indented words', '  that wrap'])
    expect(wrapLine({label: '  ', text: 'reason: items that wrap', hang: 4}, 18)).toEqual(['  reason: items', '    that wrap'])
    expect(wrapLine({label: 'fix: ', text: 'a very long command line', keep: true}, 10)).toEqual(['fix: a very long command line'])
  })
})
