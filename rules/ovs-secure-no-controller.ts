import type {OvsBridgeView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<OvsBridgeView>({
  id: 'ovs-secure-no-controller',
  kind: 'ovs-bridge',
  severity: 'critical',
  needs: [probes.ovs],
  known: ['forwardingFlows'],
  appliesTo: (b) => b.guestPorts.length > 0,
  // Flows the controller left that forward frames keep the bridge working: then the flows decide (ovs-flow-drop).
  conditions: (c) => c.all(c.eq('failMode', 'secure'), c.eq('controllersConnected', 0), c.eq('forwardingFlows.length', 0)),
  title: (b) => text`Open vSwitch bridge ${b.name} is in fail_mode secure with no controller connected: every guest frame is dropped`,
  summary: (b) =>
    text`${b.name} carries ${b.guests.length} running guest(s) (${b.guests}). In fail_mode secure OVS never falls back to a learning switch, and ${b.controllers.length === 0 ? 'no controller is set' : `its controller ${b.controllers.join(', ')} is not connected`}; no flow forwards anything (${b.flowCount ?? 0} flow(s), none with an action that sends a frame on).`,
  evidence: (b) => [line`ovs-vsctl list bridge ${b.name}: fail_mode ${b.failMode}, controller ${b.controllers.length > 0 ? b.controllers.join(', ') : 'none'}`, ...b.controllerErrors.map((e) => line`ovs-vsctl list controller: ${e}`), line`ovs-ofctl dump-flows ${b.name}: ${b.flowCount} flow(s)`],
  // Restoring the controller is the fix; standalone mode lets through whatever its flows would have filtered.
  fix: () => [],
  check: (b) => [cmd`ovs-vsctl get-controller ${b.name}`, cmd`ovs-vsctl list Controller`],
  note: (b) => [line`restore the controller (${b.controllers.length > 0 ? b.controllers.join(', ') : 'ovs-vsctl set-controller BR TARGET'}); while it is away, ovs-vsctl set-fail-mode ${b.name} standalone makes ${b.name} a learning switch, which lets through everything the controller's flows would filter`],
  owns: [{kind: 'ovs-controller', covers: (b, el) => el.device === b.name, undo: () => []}],
})
