import {describe, expect, it} from 'vitest'
import {EVERY_RULE} from '../src/core/rule-docs.js'
import {kvmdoctorCli} from './helpers.js'

const kvmdoctor = (...args: string[]) => kvmdoctorCli(args)

describe('kvmdoctor rules', () => {
  it('lists every rule with severity, scope and meaning', async () => {
    const r = await kvmdoctor('rules')
    expect(r.exitCode).toBe(0)
    const lines = r.stdout.split('\n')
    expect(lines[0]).toMatch(/^ID\s+SEVERITY\s+SCOPE\s+MEANING$/)
    expect(lines).toHaveLength(EVERY_RULE.length + 1)
    expect(r.stdout).toMatch(/^expect-forwarding\s+critical\s+host\s+/m)
    expect(r.stdout).toMatch(/^ip-forward-disabled\s+critical\s+host\s+The kernel does not route IPv4 between interfaces \(`?net\.ipv4\.ip_forward = 0`?\) while/m)
    expect(r.stdout).toMatch(/^bridge-netfilter-enabled\s+low\/high\s+link\s+/m)
  })

  it('--json gives ids, severities, scopes, requirements and relations', async () => {
    const rows = JSON.parse((await kvmdoctor('rules', '--json')).stdout)
    expect(rows.map((r: {id: string}) => r.id)).toEqual(EVERY_RULE.map((r) => r.id))
    expect(rows.find((r: {id: string}) => r.id === 'libvirt-network-inactive')).toMatchObject({severity: 'critical', scope: 'network', requires: ['libvirt'], explains: expect.arrayContaining(['dhcp-server-not-running'])})
    expect(rows.find((r: {id: string}) => r.id === 'nat-masquerade-missing').requires).toEqual(['libvirt', 'netfilter'])
  })

  it('show ID prints the doc; an unknown id exits 2', async () => {
    const r = await kvmdoctor('rules', 'show', 'dns-port-conflict')
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toMatch(/^# dns-port-conflict — critical/)
    expect(r.stdout).toContain('systemd-resolved on 127.0.0.53')
    const bad = await kvmdoctor('rules', 'show', 'no-such-rule')
    expect(bad.exitCode).toBe(2)
    expect(bad.stderr).toContain('unknown rule "no-such-rule"')
  })

  it('show ID prints the conditions as data, the views it runs on and the probes it needs', async () => {
    const r = await kvmdoctor('rules', 'show', 'nat-masquerade-missing')
    const json = /```json\n([\s\S]+?)\n```/.exec(r.stdout)?.[1]
    expect(JSON.parse(json!)).toEqual(EVERY_RULE.find((x) => x.id === 'nat-masquerade-missing')!.conditions)
    expect(JSON.parse(json!).all).toContainEqual({fact: 'entity', path: 'sourceNatRules.length', operator: 'equal', value: 0})
    expect(r.stdout).toMatch(/^- runs on: network views$/m)
    expect(r.stdout).toMatch(/^- needs probes: libvirt, netfilter; not checked where unknown: sourceNatRules, subnet$/m)
  })

  it('a renamed rule answers to its old id, and says so', async () => {
    const r = await kvmdoctor('rules', 'show', 'forward-policy-drop')
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toMatch(/^# iptables-forward-drop — critical/)
    expect(r.stdout).toMatch(/^- id: `iptables-forward-drop`, also known as `forward-policy-drop`/m)
    const rows = JSON.parse((await kvmdoctor('rules', '--json')).stdout)
    expect(rows.find((x: {id: string}) => x.id === 'iptables-forward-drop').aliases).toEqual(['forward-policy-drop'])
  })
})
