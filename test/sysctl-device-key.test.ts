/**
 * A device whose name holds a dot (a VLAN uplink eth0.100) is spelled with a slash in a sysctl key: sysctl(8) and
 * sysctl.d(5) read the key's dots as /proc/sys's separators, so `sysctl -w net.ipv4.conf.eth0.100.forwarding=1`
 * fails (no /proc/sys/net/ipv4/conf/eth0/100/forwarding) where net.ipv4.conf.eth0/100.forwarding sets it.
 */
import {describe, expect, it} from 'vitest'
import {diagnose} from '../src/core/diagnose.js'
import {ReplayRunner} from '../src/core/snapshot.js'
import {renderSteps} from '../src/lib/fix.js'
import {deviceKey, sysctlPath} from '../src/lib/sysctl-key.js'
import {replayOptions} from './helpers.js'
import {renamedRecording} from './hostile/helpers.js'

async function diagnosisOfDir(dir: string) {
  const runner = await ReplayRunner.open(dir)
  return diagnose({runner, options: replayOptions(runner), version: 'test', now: new Date('2026-01-01T00:00:00Z')})
}

describe('sysctl keys of a device with a dot in its name', () => {
  it('the key spells the dot as a slash, and names the same /proc/sys file', () => {
    expect(deviceKey('ipv4', 'eth0.100', 'forwarding')).toBe('net.ipv4.conf.eth0/100.forwarding')
    expect(sysctlPath(deviceKey('ipv4', 'eth0.100', 'forwarding'))).toBe('/proc/sys/net/ipv4/conf/eth0.100/forwarding')
    expect(sysctlPath('net.ipv4.ip_forward')).toBe('/proc/sys/net/ipv4/ip_forward')
  })

  it('an uplink eth0.100 whose own forwarding is off: evidence and fix name net.ipv4.conf.UPLINK/100.forwarding (ip-forward-per-device-uplink-off, renamed)', async () => {
    const d = await diagnosisOfDir(await renamedRecording('ip-forward-per-device-uplink-off', {'kdlab-up0': 'kdlab-up0.100'}))
    const blocked = d.findings.find((f) => f.id === 'guest-flow-blocked' && f.entity.name.includes('forwarding'))
    expect(blocked?.entity.name).toBe('net.ipv4.conf.kdlab-up0/100.forwarding = 0')
    expect(renderSteps(blocked!.fixSteps)).toEqual(['sysctl -w net.ipv4.conf.kdlab-up0/100.forwarding=1'])
  })

  it('arp flux between eth0.100 and eth1: both keys in sysctl -w and the drop-in carry the slash (arp-flux, renamed)', async () => {
    const d = await diagnosisOfDir(await renamedRecording('arp-flux', {'kdlab-nh0': 'kdlab-nh0.7'}))
    const fix = renderSteps(d.findings.find((f) => f.id === 'arp-flux')!.fixSteps).join('\n')
    expect(fix).toContain('net.ipv4.conf.kdlab-nh0/7.arp_ignore=1')
    expect(fix).not.toContain('kdlab-nh0.7')
  })
})
