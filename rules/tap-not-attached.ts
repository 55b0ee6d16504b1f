import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<InterfaceView>({
  id: 'tap-not-attached',
  kind: 'interface',
  severity: 'critical',
  needs: [probes.libvirt, probes.links],
  appliesTo: (i) => i.tapCheckable,
  // A tap that is missing has no master either.
  conditions: (c) => c.all(c.eq('tapCheckable', true), c.ne('tapMaster', c.field('expectedBridge'))),
  title: (i) => text`Guest ${i.domain}: tap ${i.target} is not attached to bridge ${i.expectedBridge}`,
  summary: (i) =>
    text`${i.domain} (${i.mac}) should be plugged into ${i.expectedBridge}, but its tap ${i.target} has master ${i.tapMaster} (exists: ${i.tapExists}). The guest is cut off from its network; this happens to running guests when their network is restarted.`,
  evidence: (i) => [line`virsh dumpxml ${i.domain}: interface ${i.mac} target ${i.target}, source ${i.source}`, line`ip link: ${i.target} master ${i.tapMaster}`],
  fix: (i) => [cmd`ip link set ${i.target} master ${i.expectedBridge} up`],
  note: () => ['systemctl restart libvirtd re-attaches the taps of all running guests at once'],
  owns: [{kind: 'link-master', covers: (i, el) => el.device === i.target, undo: (el) => cmd`ip link set ${el.device} master ${el.master} up` ?? []}],
})
