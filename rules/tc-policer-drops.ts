import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

/** Queueing disciplines that only queue or shape: deleting one leaves the default qdisc, and filters nothing out. */
const SHAPING = new Set(['htb', 'tbf', 'pfifo', 'bfifo', 'hfsc', 'sfq', 'fq_codel', 'netem', 'cake', 'red', 'codel'])

export default defineRule<InterfaceView>({
  id: 'tc-policer-drops',
  kind: 'interface',
  severity: 'medium',
  needs: [probes.libvirt, probes.tc],
  known: ['tapDropsGrowing'],
  appliesTo: (i) => i.running && i.target !== null,
  conditions: (c) => c.all(c.nonEmpty('tapDropsGrowing')),
  title: (i) => text`Guest ${i.domain}: traffic control on ${i.target} is dropping packets now (${(i.tapDropsGrowing ?? []).map((d) => `${d.kind} ${d.handle} +${d.drops}`)})`,
  summary: (i) =>
    text`The drop counter of ${(i.tapDropsGrowing ?? []).map((d) => `qdisc ${d.kind} ${d.handle} (${d.parent === 'root' ? 'root' : d.parent})`)} on ${i.domain}'s tap ${i.target} grew while kvmdoctor looked: a policer, a full queue or a shaping class is dropping this guest's traffic${i.bandwidthInbound || i.bandwidthOutbound ? ' (libvirt <bandwidth> sets the limit)' : ''}.`,
  evidence: (i) => (i.tapDropsGrowing ?? []).map((d) => line`tc -s qdisc show dev ${i.target}: ${d.kind} ${d.handle} dropped ${d.drops} more between two reads`),
  // libvirt's own limit is changed through libvirt (its value is the admin's choice); a hand-written shaping qdisc is removed.
  fix: (i) =>
    i.bandwidthInbound || i.bandwidthOutbound
      ? []
      : (i.tapDropsGrowing ?? []).filter((d) => d.parent === 'root' && SHAPING.has(d.kind)).map(() => cmd`tc qdisc del dev ${i.target} root`),
  check: (i) => [cmd`tc -s qdisc show dev ${i.target}`, cmd`tc -s class show dev ${i.target}`],
  note: (i) => [line`raise the limit: virsh domiftune ${i.domain} ${i.target} --inbound AVERAGE[,PEAK,BURST] --outbound AVERAGE --live --config`],
})
