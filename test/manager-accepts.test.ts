/**
 * A firewall manager's accept opens a bridge libvirt made for a network's guests, never a host bridge: a LAN bridge
 * (often the host's own uplink) moved into the libvirt zone, or allowed by `ufw route allow in on` alone, lets its
 * whole LAN through the host. Recordings: bridged-forward-drop (a guest bridged to kdlab-br0 through br_netfilter) with
 * its Docker drop made ufw's or firewalld's, by hand.
 */
import {describe, expect, it} from 'vitest'
import {diagnose} from '../src/core/diagnose.js'
import {fixHostOf, judgeFixSteps} from '../src/core/fix-safety.js'
import {ReplayRunner} from '../src/core/snapshot.js'
import {type FixStep, renderSteps} from '../src/lib/fix.js'
import {replayOptions} from './helpers.js'
import {rewrittenRecording} from './hostile/helpers.js'

async function diagnosisOfDir(dir: string) {
  const runner = await ReplayRunner.open(dir)
  return diagnose({runner, options: replayOptions(runner), version: 'test', now: new Date('2026-01-01T00:00:00Z')})
}

/** bridged-forward-drop with Docker's DOCKER-USER replaced by a manager's chain that rejects what reaches it. */
const managedBy = (chain: string) =>
  rewrittenRecording('bridged-forward-drop', '-command-iptables-save--c.txt', (text) =>
    text
      .replace(':DOCKER-USER - [0:0]\n', `:${chain} - [0:0]\n`)
      .replace('[189:85464] -A FORWARD -j DOCKER-USER\n', '')
      .replace('[472:29600] -A FORWARD -j LIBVIRT_FWO\n', `[472:29600] -A FORWARD -j LIBVIRT_FWO\n[6:1968] -A FORWARD -j ${chain}\n`)
      .replace('[189:85464] -A DOCKER-USER -j RETURN\n', `[6:1968] -A ${chain} -j REJECT --reject-with icmp-port-unreachable\n`),
  )

const argv = (...words: string[]): FixStep => ({argv: words})

describe("a manager's accept opens a libvirt network's bridge, never the LAN's", () => {
  it('ufw: frames bridged on kdlab-br0 are allowed from the bridge to itself, not everything arriving on it routed anywhere', async () => {
    const d = await diagnosisOfDir(await managedBy('ufw-reject-forward'))
    const drop = d.findings.find((f) => f.id === 'iptables-forward-drop')!
    expect(drop.evidence.join('\n')).toContain('ufw-reject-forward')
    expect(renderSteps(drop.fixSteps)).toEqual(['ufw route allow in on kdlab-br0 out on kdlab-br0'])
    const judged = (...words: string[]) => judgeFixSteps({...drop, fixSteps: [argv(...words)]}, fixHostOf(d.facts)).map((p) => p.why)
    expect(judged('ufw', 'route', 'allow', 'in', 'on', 'kdlab-br0', 'out', 'on', 'kdlab-br0')).toEqual([])
    expect(judged('ufw', 'route', 'allow', 'in', 'on', 'kdlab-br0')).toEqual([expect.stringContaining('not a bridge libvirt made for a network')])
    expect(judged('ufw', 'allow', 'in', 'on', 'kdlab-br0', 'to', 'any', 'port', '53')).toEqual([expect.stringContaining('not a bridge libvirt made for a network')])
    expect(judged('ufw', 'allow', 'in', 'on', 'virbr0', 'to', 'any', 'port', '53')).toEqual([])
    expect(judged('ufw', 'route', 'allow', 'in', 'on', 'virbr0', 'from', '192.168.122.0/24')).toEqual([])
    for (const open of [['allow', 'from', 'any'], ['allow', '22'], ['route', 'allow', 'proto', 'tcp', 'from', 'any', 'to', 'any', 'port', '22']])
      expect(judged('ufw', ...open), open.join(' ')).toHaveLength(1)
  })

  it('firewalld: kdlab-br0 is not moved into the libvirt zone; the judge refuses that for any interface but a libvirt network bridge', async () => {
    const d = await diagnosisOfDir(await managedBy('FWD_public'))
    const drop = d.findings.find((f) => f.id === 'iptables-forward-drop')!
    expect(drop.evidence.join('\n')).toContain('FWD_public')
    expect(d.findings.flatMap((f) => renderSteps(f.fixSteps)).filter((l) => l.startsWith('firewall-cmd'))).toEqual([])
    const judged = (iface: string) => judgeFixSteps({...drop, fixSteps: [argv('firewall-cmd', '--permanent', '--zone=libvirt', `--change-interface=${iface}`)]}, fixHostOf(d.facts)).map((p) => p.why)
    expect(judged('kdlab-br0')).toEqual([expect.stringContaining('not a bridge libvirt made for a network')])
    expect(judged('eth0')).toEqual([expect.stringContaining('not a bridge libvirt made for a network')])
    expect(judged('virbr0')).toEqual([])
  })
})
