import type {ExpectedHostView} from '../src/derive/index.js'
import {appendLines, cmd, defineRule, deviceKey, line, probes, SYSCTL_DROP_IN, text} from './kit.js'

/** The keys a fix sets: ip_forward, or, on a host that forwards per device, only the routed bridges' own keys (ip_forward would turn on every device, the uplink to the world included). */
const keysToSet = (h: ExpectedHostView) => (h.forwardsPerDevice ? h.routedBridgesNotForwarding.map((b) => deviceKey('ipv4', b, 'forwarding')) : ['net.ipv4.ip_forward'])

export default defineRule<ExpectedHostView>({
  id: 'expect-forwarding',
  kind: 'expected-host',
  severity: 'critical',
  needs: [probes.sysctl],
  askedFor: (h) => h.wantForwarding,
  // A host that enables forwarding per device forwards what its routed bridges receive once their own keys are 1.
  conditions: (c) => c.all(c.eq('wantForwarding', true), c.ne('ipForward', 1), c.any(c.eq('forwardsPerDevice', false), c.nonEmpty('routedNetworksNotForwarding'))),
  title: () => 'IPv4 forwarding is off, kvmdoctor.yaml requires it',
  summary: (h) =>
    h.forwardsPerDevice
      ? text`kvmdoctor.yaml requires IPv4 forwarding; this host enables it per device (net.ipv4.ip_forward = 0), and the bridge of routed network(s) ${h.routedNetworksNotForwarding} does not forward.`
      : text`kvmdoctor.yaml requires net.ipv4.ip_forward = 1; it is ${h.ipForward}.`,
  evidence: (h) => [line`net.ipv4.ip_forward = ${h.ipForward}`, h.forwardsPerDevice ? line`bridges whose own net.ipv4.conf.DEV.forwarding is not 1: ${h.routedBridgesNotForwarding}` : undefined],
  fix: (h) => {
    const keys = keysToSet(h)
    return keys.length === 0 ? [] : [...keys.map((k) => cmd`sysctl -w ${k}=1`), appendLines(SYSCTL_DROP_IN, keys.map((k) => `${k} = 1`))]
  },
  fileToChange: () => 'etc/sysctl.d/90-kvmdoctor.conf',
})
