import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'tap-not-attached',
  severity: 'critical',
  scope: 'interface',
  appliesTo: (e) => e.tapCheckable === true,
  title: 'Guest {domain}: tap {target} is not attached to bridge {expectedBridge}',
  requires: ['libvirt', 'links'],
  conditions: {
    all: [
      {fact: 'entity', path: 'tapCheckable', operator: 'equal', value: true},
      {fact: 'entity', path: 'tapAttached', operator: 'equal', value: false},
    ],
  },
  summary: '{domain} ({mac}) should be plugged into {expectedBridge}, but its tap {target} has master {tapMaster} (exists: {tapExists}). The guest is cut off from its network; this happens to running guests when their network is restarted.',
  evidence: ['virsh dumpxml {domain}: interface {mac} target {target}, source {source}', 'ip link: {target} master {tapMaster}'],
  fix: ['ip link set {target} master {expectedBridge} up'],
  note: ['systemctl restart libvirtd re-attaches the taps of all running guests at once'],
  claims: ['tap:{target}'],
}
