import type {ExpectedNetworkView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<ExpectedNetworkView>({
  id: 'expect-network-autostart',
  kind: 'expected-network',
  severity: 'medium',
  needs: [probes.libvirt],
  askedFor: (n) => n.wantAutostart,
  // A network the host lacks is expect-network-active's.
  conditions: (c) => c.all(c.eq('wantAutostart', true), c.eq('defined', true), c.ne('autostart', true)),
  title: (n) => text`Expected network ${n.name} to autostart`,
  summary: (n) => text`kvmdoctor.yaml requires network ${n.name} to start at boot; autostart is off.`,
  evidence: (n) => [line`virsh net-list --all: ${n.name} autostart no`],
  fix: (n) => [cmd`virsh net-autostart ${n.name}`],
})
