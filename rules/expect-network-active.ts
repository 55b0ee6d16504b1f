import type {ExpectedNetworkView} from '../src/derive/index.js'
import {defineRule, line, probes, text} from './kit.js'

export default defineRule<ExpectedNetworkView>({
  id: 'expect-network-active',
  kind: 'expected-network',
  severity: 'critical',
  needs: [probes.libvirt],
  askedFor: (n) => n.wantActive,
  conditions: (c) => c.all(c.eq('wantActive', true), c.eq('active', false)),
  title: (n) => text`Expected network ${n.name} is ${n.state}`,
  summary: (n) => text`kvmdoctor.yaml requires network ${n.name} to be active; it is ${n.state}.`,
  evidence: (n) => [line`virsh net-list --all: ${n.name} ${n.state}`],
  fix: (n) => [line`virsh net-start ${n.name}`],
  note: () => ['if it is not defined on this host, define it from its XML first (virsh net-define)'],
})
