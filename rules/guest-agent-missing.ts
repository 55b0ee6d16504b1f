import type {DomainView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<DomainView>({
  id: 'guest-agent-missing',
  kind: 'domain',
  severity: 'info',
  needs: [probes.libvirt],
  appliesTo: (d) => d.running,
  conditions: (c) => c.all(c.eq('running', true), c.eq('guestAgentChannel', false)),
  title: (d) => text`Guest ${d.name} has no QEMU guest agent channel`,
  summary: (d) => text`Without org.qemu.guest_agent.0 the host learns ${d.name}'s addresses only from leases and ARP; bridged guests with static addresses stay invisible to virsh domifaddr.`,
  evidence: (d) => [line`virsh dumpxml ${d.name}: no <channel> with target name org.qemu.guest_agent.0`],
  fix: (d) => [cmd`virsh edit ${d.name}`],
  note: () => ["add <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel> under <devices>", 'then install and start qemu-guest-agent inside the guest'],
})
