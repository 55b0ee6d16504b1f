import type {OvsBridgeView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<OvsBridgeView>({
  id: 'ovs-secure-no-controller',
  kind: 'ovs-bridge',
  severity: 'critical',
  needs: [probes.ovs],
  known: ['forwardingFlows'],
  // What the flows let through decides, not whether some flow forwards anything: one that forwards only ARP (or
  // another port's traffic) leaves every guest's IPv4 to the table miss, which the missing controller turns into a
  // drop. Where a guest's IPv4 passes, a flow drops it, or a match kvmdoctor does not evaluate decides, the flows are
  // judged (ovs-flow-drop).
  appliesTo: (b) => b.guestPorts.length > 0,
  conditions: (c) => c.all(c.eq('failMode', 'secure'), c.eq('controllersConnected', 0), c.any(c.eq('forwardingFlows.length', 0), c.eq('guestUnicastFate', 'table-miss'))),
  title: (b) => text`Open vSwitch bridge ${b.name} is in fail_mode secure with no controller connected: ${b.forwardingFlows?.length ? "no flow forwards a guest's IPv4 frames" : 'every guest frame is dropped'}`,
  summary: (b) =>
    text`${b.name} carries ${b.guests.length} running guest(s) (${b.guests}). In fail_mode secure OVS never falls back to a learning switch, and ${b.controllers.length === 0 ? 'no controller is set' : `its controller ${b.controllers.join(', ')} is not connected`}; no flow forwards ${b.forwardingFlows?.length ? "a guest's IPv4 unicast" : 'anything'} (${b.flowCount ?? 0} flow(s)${b.forwardingFlows?.length ? `; the ${b.forwardingFlows.length} that send frames on match other traffic` : ', none with an action that sends a frame on'}).`,
  evidence: (b) => [line`ovs-vsctl list bridge ${b.name}: fail_mode ${b.failMode}, controller ${b.controllers.length > 0 ? b.controllers.join(', ') : 'none'}`, ...b.controllerErrors.map((e) => line`ovs-vsctl list controller: ${e}`), line`ovs-ofctl dump-flows ${b.name}: ${b.flowCount} flow(s)`, ...(b.forwardingFlows ?? []).map((f) => line`forwards only other traffic: ${f}`)],
  // Restoring the controller is the fix; standalone mode lets through whatever its flows would have filtered.
  fix: () => [],
  check: (b) => [cmd`ovs-vsctl get-controller ${b.name}`, cmd`ovs-vsctl list Controller`],
  note: (b) => [line`restore the controller (${b.controllers.length > 0 ? b.controllers.join(', ') : 'ovs-vsctl set-controller BR TARGET'}); while it is away, ovs-vsctl set-fail-mode ${b.name} standalone makes ${b.name} a learning switch, which lets through everything the controller's flows would filter`],
  owns: [{kind: 'ovs-controller', covers: (b, el) => el.device === b.name, undo: () => []}],
})
