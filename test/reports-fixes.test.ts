/**
 * Fix lines are commands a person pastes as they are: on every recording (and on
 * each with guest flows followed), no fix line holds a placeholder, a shell
 * comment or prose, and evidence repeats no line.
 */
import {describe, expect, it} from 'vitest'
import {countRepeats, stepsOf} from '../src/core/engine.js'
import {RECORDINGS, diagnosisOf} from './reports/recordings.js'

/** Words the old templates used for values they did not know. */
const PLACEHOLDER = /\b(DEV|N|IF|IFACE|PREFIX|NEW_MAX|GUEST_SUBNET|FAMILY|TABLE|CHAIN|GATEWAY|UPLINK|SECONDARY|START|END|NETWORK|GUEST|DOMAIN|BRIDGE|ADDR|MAC|HANDLE|S|E)\b|\{[\w.]+\}|(?<![\w/])(none|null|undefined|NaN)\b|\[object Object\]/
/** What a fix line may start with: the tools kvmdoctor's fixes use. */
const COMMANDS = new Set(['sysctl', 'echo', 'printf', 'ip', 'bridge', 'iptables', 'ip6tables', 'iptables-legacy', 'ip6tables-legacy', 'iptables-nft', 'ip6tables-nft', 'nft', 'virsh', 'systemctl', 'modprobe', 'conntrack', 'update-alternatives', 'firewall-cmd', 'kvmdoctor', 'journalctl', 'dhcp_release', 'kill', 'sleep', 'ufw', 'timeout', '/usr/sbin/dnsmasq', 'tc', 'ovs-vsctl', 'ovs-ofctl', '/usr/share/openvswitch/scripts/ovs-ctl'])

export function fixProblems(fix: string): string[] {
  const problems: string[] = []
  const placeholder = PLACEHOLDER.exec(fix)
  if (placeholder) problems.push(`placeholder ${placeholder[0]}`)
  if (!COMMANDS.has(fix.split(/\s+/)[0])) problems.push(`not a command (starts with "${fix.split(/\s+/)[0]}")`)
  if (/\s#\s/.test(fix.replace(/'[^']*'|"[^"]*"/g, "''"))) problems.push('shell comment (prose belongs in the note)')
  return problems
}

describe('fix lines', () => {
  it('the checker catches what the old templates had', () => {
    expect(fixProblems('ip link set DEV mtu N   # one MTU')).toEqual(['placeholder DEV', 'shell comment (prose belongs in the note)'])
    expect(fixProblems('sysctl -w net.netfilter.nf_conntrack_max=NEW_MAX')).toEqual(['placeholder NEW_MAX'])
    expect(fixProblems('inside the other machine: ip addr del 10.0.0.5/PREFIX dev IF')[1]).toBe('not a command (starts with "inside")')
    expect(fixProblems("iptables -I FORWARD -i virbr0 -m comment --comment 'a # b' -j ACCEPT")).toEqual([])
    expect(fixProblems('virsh domif-setlink none none down')).toEqual(['placeholder none'])
  })

  it('fix steps: sequences flattened, lines left out dropped, repeats gone', () => {
    const restart = {argv: ['systemctl', 'restart', 'libvirtd']}
    expect(stepsOf([restart, undefined, [restart, {argv: ['virsh', 'net-start', 'default']}]])).toEqual([restart, {argv: ['virsh', 'net-start', 'default']}])
  })

  it('repeated evidence lines are counted', () => {
    expect(countRepeats(['a', 'b', 'a', 'a'])).toEqual(['a (x3)', 'b'])
  })

  for (const name of RECORDINGS) {
    for (const policyRules of [false, true]) {
      it(`${name}${policyRules ? ' (flows followed)' : ''}: every fix line is a filled-in command`, async () => {
        const d = await diagnosisOf(name, {policyRules})
        const bad = d.findings.flatMap((f) => f.fix.filter((x) => !x.startsWith('# disrupts running guests ')).flatMap((x) => fixProblems(x).map((p) => `${f.id}: ${x} — ${p}`)))
        expect(bad).toEqual([])
        for (const f of d.findings) expect(new Set(f.evidence).size, `${f.id} repeats evidence`).toBe(f.evidence.length)
      })
    }
  }
})

describe('evidence', () => {
  it.runIf(RECORDINGS.includes('dns-port-conflict'))('dns-port-conflict quotes its repeated log line once, counted', async () => {
    const f = (await diagnosisOf('dns-port-conflict')).findings.find((x) => x.id === 'dns-port-conflict')!
    const log = f.evidence.find((e) => e.startsWith('log: '))!
    expect(log).toMatch(/Address already in use \(x\d+\)$/)
    expect(log.match(/Address already in use/g)).toHaveLength(1)
  })
})

describe('"Root cause → run this" shows a fix whole or cut where what it shows stands alone', () => {
  it('never cuts after a step that cuts guests off: the steps that bring them back come with it (lab recordings)', async () => {
    const {rootFixes} = await import('../reports/summary.js')
    // dnsmasq-killed: destroy, start, two re-plugs, all shown under its "# disrupts" line.
    const [killed] = rootFixes(await diagnosisOf('dnsmasq-killed'))
    expect(killed.finding.id).toBe('dhcp-server-not-running')
    expect(killed.commands).toEqual(killed.finding.fix)
    expect(killed.moreCommands).toBe(0)
  })

  it('cuts before the disrupting step when other steps come first; cuts plain sequences as before', async () => {
    const {fixHead} = await import('../reports/summary.js')
    const disrupting = ['virsh net-edit default', '# disrupts running guests web01 until the steps below re-attach them', 'virsh net-destroy default', 'virsh net-start default', 'ip link set vnet0 master virbr0 up']
    expect(fixHead(disrupting, 3)).toEqual(['virsh net-edit default'])
    expect(fixHead(disrupting.slice(1), 3)).toEqual(disrupting.slice(1))
    expect(fixHead(['a', 'b', 'c', 'd'], 3)).toEqual(['a', 'b', 'c'])
    expect(fixHead(['a', 'b', 'c', '# disrupts running guests x until the steps below re-attach them', 'd'], 3)).toEqual(['a', 'b', 'c'])
  })
})
