import {describe, expect, it} from 'vitest'
import {renderMarkdown} from '../reports/markdown.js'
import {renderTerminal} from '../reports/terminal.js'
import {renderText} from '../reports/text.js'
import {diagnose} from '../src/core/diagnose.js'
import {ReplayRunner} from '../src/core/snapshot.js'
import {fixtureDir, replayOptions} from './helpers.js'

async function diagnosisOf(name: string) {
  const runner = await ReplayRunner.open(fixtureDir(name))
  return diagnose({runner, options: replayOptions(runner), version: 'test'})
}

describe('reports', () => {
  it('plain text indents symptoms under their root cause and has no Markdown or colour', async () => {
    const text = renderText(await diagnosisOf('dnsmasq-killed'))
    expect(text).toMatch(/^1\. \[CRITICAL\] dhcp-server-not-running \(network default\)$/m)
    expect(text).toMatch(/^ {4}2\. \[HIGH\] apipa-address \(apipa kdlab-apipa01 169\.254\.\d+\.\d+\) — explained by 1. dhcp-server-not-running$/m)
    expect(text).not.toMatch(/\u001b\[|```|^#/m)
  })

  it('Markdown marks explained findings and lists unavailable probes and unchecked rules', async () => {
    const d = await diagnosisOf('dnsmasq-killed')
    d.probes.push({id: 'nftables', ok: false, durationMs: 0, error: 'nft: command not found'})
    d.notChecked.push({ruleId: 'nat-masquerade-missing', entity: null, reason: 'probes iptables and nftables unavailable'})
    const md = renderMarkdown(d)
    expect(md).toContain('### 2. [HIGH]')
    expect(md).toContain('(explained by dhcp-server-not-running)')
    expect(md).toContain('## Not checked\n\n- probes iptables and nftables unavailable: `nat-masquerade-missing`')
    expect(md).toContain('- nftables: nft: command not found')
  })

  it('reads info findings of one rule on many entities as one line (JSON keeps them all)', async () => {
    const d = await diagnosisOf('dhcp-range-exhausted')
    const agents = d.findings.filter((f) => f.id === 'guest-agent-missing')
    expect(agents.length).toBeGreaterThan(3)
    const text = renderText(d)
    expect(text).toMatch(new RegExp(`^\\d+-\\d+\\. \\[INFO\\] guest-agent-missing on ${agents.length} domains: kdlab-\\S+, .* — kvmdoctor rules show guest-agent-missing$`, 'm'))
    expect(text.match(/guest-agent-missing/g)).toHaveLength(2)
    expect(text).toContain('1. [HIGH] dhcp-range-exhausted (network kdlab-tiny)')
  })

  it('groups rules not checked by reason and hints at root when probes lacked privileges', async () => {
    const d = await diagnosisOf('healthy')
    d.probes.push({id: 'iptables', ok: false, durationMs: 0, error: 'iptables-save: exit 4: Permission denied (you must be root)'})
    d.notChecked.push({ruleId: 'forward-policy-drop', entity: null, reason: 'probe iptables unavailable: denied'}, {ruleId: 'firewall-backend-mismatch', entity: null, reason: 'probe iptables unavailable: denied'})
    const text = renderText(d)
    expect(text).toContain('hint: iptables could not be read without privileges: run kvmdoctor as root for a full diagnosis.')
    expect(text).toContain('Not checked:\n  probe iptables unavailable: denied:\n    forward-policy-drop, firewall-backend-mismatch')
  })

  it('on a TTY, renders the Markdown for the terminal (no raw heading markers)', async () => {
    const out = renderTerminal(await diagnosisOf('ip-forward-off'), {tty: true, showSuppressed: false})
    expect(out).toContain('IPv4 forwarding is off')
    expect(out).not.toMatch(/^## /m)
    expect(out).toContain('sysctl -w net.ipv4.ip_forward=1')
  })
})
