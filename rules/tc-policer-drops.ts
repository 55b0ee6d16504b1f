import type {InterfaceView} from '../src/derive/index.js'
import type {GrowingDrops} from '../src/datapath/tc.js'
import {SHAPING_QDISCS, cmd, defineRule, line, probes, text} from './kit.js'

/** The qdiscs that only hold filters (ingress, and clsact's two hooks): their drop counter counts what the filters drop. */
const HOOK_QDISCS = new Set(['ingress', 'clsact'])
const libvirtLimits = (i: InterfaceView) => i.bandwidthInbound !== null || i.bandwidthOutbound !== null


/** What the growing counter is blamed on: only what can drop there, and no guess between two that can. */
function dropperText(d: GrowingDrops): string {
  switch (d.cause) {
    case 'queue':
      return 'a full queue or a shaping class'
    case 'policer':
      return `a policer (${d.droppers.join(', ')})`
    case 'drop-filter':
      return `a filter whose action is drop, not a policer (${d.droppers.join(', ')})`
    default:
      return d.droppers.length > 0
        ? `one of ${d.droppers.join(', ')} (the qdisc's counter does not tell which)`
        : `a filter of qdisc ${d.kind} ${d.handle} (none kvmdoctor read is known to drop: which one cannot be told)`
  }
}

/** The causes, each once: "X is" or "X and Y are". */
function droppersText(i: InterfaceView): string {
  const causes = [...new Set((i.tapDropsGrowing ?? []).map(dropperText))]
  return `${causes.join(' and ')} ${causes.length === 1 ? 'is' : 'are'}`
}

/** Every growing counter is a rate limit's (a queue, a shaping class, a policer): only then is raising a limit the answer. */
const rateLimited = (i: InterfaceView) => (i.tapDropsGrowing ?? []).every((d) => d.cause === 'queue' || d.cause === 'policer')

export default defineRule<InterfaceView>({
  id: 'tc-policer-drops',
  kind: 'interface',
  severity: 'medium',
  needs: [probes.libvirt, probes.tc],
  known: ['tapDropsGrowing'],
  appliesTo: (i) => i.running && i.target !== null,
  conditions: (c) => c.all(c.nonEmpty('tapDropsGrowing')),
  // A classful qdisc's counter repeats its children's drops: the title counts each packet once, where it was dropped.
  title: (i) => text`Guest ${i.domain}: traffic control on ${i.target} is dropping packets now (${(i.tapDropsGrowing ?? []).filter((d) => d.drops > d.ofQdiscsUnder).map((d) => `${d.kind} ${d.handle} +${d.drops - d.ofQdiscsUnder}`)})`,
  summary: (i) =>
    text`The drop counter of ${(i.tapDropsGrowing ?? []).map((d) => `qdisc ${d.kind} ${d.handle} (${d.parent === 'root' ? 'root' : d.parent})`)} on ${i.domain}'s tap ${i.target} grew while kvmdoctor looked: ${droppersText(i)} dropping this guest's traffic${rateLimited(i) && (i.bandwidthInbound || i.bandwidthOutbound) ? ' (libvirt <bandwidth> sets the limit)' : ''}.`,
  evidence: (i) => (i.tapDropsGrowing ?? []).flatMap((d) => [line`tc -s qdisc show dev ${i.target}: ${d.kind} ${d.handle} dropped ${d.drops} more between two reads${d.ofQdiscsUnder > 0 ? `, ${d.ofQdiscsUnder} of them counted first by the qdiscs under it` : ''}`, ...d.droppers.map((f) => line`may drop there: ${f}`)]),
  // libvirt's own limit is changed through libvirt (its value is the admin's choice); a hand-written shaping qdisc is
  // removed, and so is a hand-written policing filter on the hook whose qdisc counts the drops (a filter that only
  // polices: one that also classifies or redirects does more than limit the rate) when the policer is what drops.
  fix: (i) =>
    libvirtLimits(i)
      ? []
      : (i.tapDropsGrowing ?? []).flatMap((d) =>
          d.parent === 'root' && SHAPING_QDISCS.has(d.kind)
            ? [cmd`tc qdisc del dev ${i.target} root`]
            : d.cause === 'policer'
              ? i.tapShaping.flatMap((s) => (s.policer?.policeOnly && (s.policer.attach === 'ingress' || (d.kind === 'clsact' && s.policer.attach === 'egress')) ? [cmd`tc filter del dev ${i.target} ${s.policer.attach} pref ${String(s.policer.pref)}`] : []))
              : [],
        ),
  check: (i) => [cmd`tc -s qdisc show dev ${i.target}`, cmd`tc -s class show dev ${i.target}`, (i.tapDropsGrowing ?? []).some((d) => HOOK_QDISCS.has(d.kind)) ? cmd`tc -s filter show dev ${i.target} ingress` : undefined, (i.tapDropsGrowing ?? []).some((d) => d.kind === 'clsact') ? cmd`tc -s filter show dev ${i.target} egress` : undefined],
  note: (i) => [
    (i.tapDropsGrowing ?? []).some((d) => d.cause === 'indeterminate')
      ? line`the qdisc's counter does not say which filter drops: read each filter's own counters (tc -s filter show dev ${i.target}) before changing a limit`
      : !rateLimited(i)
        ? line`a drop filter, not a rate limit, drops here: raising a limit changes nothing; it was added with tc (by hand or by another tool): narrow or remove it where it is made`
        : libvirtLimits(i)
          ? line`raise the limit: virsh domiftune ${i.domain} ${i.target} --inbound AVERAGE[,PEAK,BURST] --outbound AVERAGE --live --config`
          : line`${i.domain} has no libvirt <bandwidth>: the limit was set on ${i.target} with tc (by hand or by another tool), not by libvirt; change it where it is made, or it comes back`,
  ],
})
