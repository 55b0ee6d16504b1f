import type {ExpectedNetworkView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, reattachTaps, text} from './kit.js'

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
  fix: (n) => [cmd`virsh net-start ${n.name}`, ...(n.network ? reattachTaps(n.network) : [])],
  note: () => ['if it is not defined on this host, define it from its XML first (virsh net-define)'],
})
