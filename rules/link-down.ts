import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'link-down',
  severity: 'high',
  scope: 'link',
  appliesTo: (e) => e.matters === true,
  title: 'Interface {name} is down ({mattersBecause})',
  requires: ['links'],
  conditions: {
    all: [
      {fact: 'entity', path: 'matters', operator: 'equal', value: true},
      {fact: 'entity', path: 'down', operator: 'equal', value: true},
    ],
  },
  summary: '{name} is the {mattersBecause}, and it is down (admin up: {adminUp}, operstate {operstate}, flags {flags}).',
  evidence: ['ip -j -d addr show {name}: operstate {operstate}, flags {flags}'],
  fix: ['ip link set {name} up'],
  note: ['if it stays without carrier on a physical port, check the cable and the switch port (ethtool {name})'],
  claims: ['link:{name}'],
}
