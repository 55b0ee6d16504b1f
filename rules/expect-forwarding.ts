import type {ExpectedHostView} from '../src/derive/index.js'
import {appendLines, cmd, defineRule, line, probes, SYSCTL_DROP_IN, text} from './kit.js'

export default defineRule<ExpectedHostView>({
  id: 'expect-forwarding',
  kind: 'expected-host',
  severity: 'critical',
  needs: [probes.sysctl],
  askedFor: (h) => h.wantForwarding,
  conditions: (c) => c.all(c.eq('wantForwarding', true), c.ne('ipForward', 1)),
  title: () => 'IPv4 forwarding is off, kvmdoctor.yaml requires it',
  summary: (h) => text`kvmdoctor.yaml requires net.ipv4.ip_forward = 1; it is ${h.ipForward}.`,
  evidence: (h) => [line`net.ipv4.ip_forward = ${h.ipForward}`],
  fix: () => [cmd`sysctl -w net.ipv4.ip_forward=1`, appendLines(SYSCTL_DROP_IN, ['net.ipv4.ip_forward = 1'])],
  fileToChange: () => 'etc/sysctl.d/90-kvmdoctor.conf',
})
