/**
 * The daemon whose restart re-applies libvirt's network firewall rules is the one the host runs: virtnetworkd under
 * the modular daemons (Fedora, RHEL 9), where `systemctl restart libvirtd` finds no unit or starts a second daemon
 * beside them. virtnetworkd exits when idle (--timeout 120), so a modular host is also told by its other drivers.
 */
import {describe, expect, it} from 'vitest'
import {diagnose} from '../src/core/diagnose.js'
import {ReplayRunner} from '../src/core/snapshot.js'
import {renderSteps} from '../src/lib/fix.js'
import {replayOptions} from './helpers.js'
import {renamedRecording} from './hostile/helpers.js'

async function fixesOf(renames: Record<string, string>) {
  const runner = await ReplayRunner.open(await renamedRecording('firewall-flushed', renames))
  const d = await diagnose({runner, options: replayOptions(runner), version: 'test'})
  return Object.fromEntries(['libvirt-firewall-rules-missing', 'nat-masquerade-missing'].map((id) => [id, renderSteps(d.findings.find((f) => f.id === id)!.fixSteps)]))
}

describe("libvirt's rules re-applied by the network daemon the host runs (firewall-flushed)", () => {
  it('monolithic libvirtd: restart libvirtd', async () => {
    expect(await fixesOf({})).toEqual({'libvirt-firewall-rules-missing': ['systemctl restart libvirtd'], 'nat-masquerade-missing': ['systemctl restart libvirtd']})
  })

  it('modular daemons, virtnetworkd running: restart virtnetworkd', async () => {
    expect(await fixesOf({'libvirtd -d': '/usr/sbin/virtnetworkd --timeout 120'})).toEqual({'libvirt-firewall-rules-missing': ['systemctl restart virtnetworkd'], 'nat-masquerade-missing': ['systemctl restart virtnetworkd']})
  })

  it('modular daemons, virtnetworkd idle and gone (virtqemud runs, no libvirtd): restart virtnetworkd', async () => {
    expect(await fixesOf({'libvirtd -d': '/usr/sbin/virtqemud --timeout 120'})).toEqual({'libvirt-firewall-rules-missing': ['systemctl restart virtnetworkd'], 'nat-masquerade-missing': ['systemctl restart virtnetworkd']})
  })
})
