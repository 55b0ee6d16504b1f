import type {HostView} from '../src/derive/index.js'
import {appendLines, cmd, defineRule, line, probes, SYSCTL_DROP_IN, text} from './kit.js'

/** Share of nf_conntrack_max in use that raises the finding, and that makes it high. */
const WARN = 0.8
const HIGH = 0.95

interface Usage {
  conntrackRatio: number | null
  conntrackPercent: number | null
  /** What to raise nf_conntrack_max to: twice the current maximum. */
  conntrackNewMax: number
}

export default defineRule<HostView, Usage>({
  id: 'conntrack-table-full',
  kind: 'host',
  severity: 'medium',
  // Past 95% new connections start failing in bursts: high, not a warning.
  escalate: {to: 'high', when: (h) => h.conntrackRatio !== null && h.conntrackRatio >= HIGH},
  needs: [probes.sysctl],
  known: ['conntrackCount', 'conntrackMax'],
  derive: (h) => {
    const count = h.conntrackCount!
    const max = h.conntrackMax!
    const ratio = max > 0 ? count / max : null
    return {conntrackRatio: ratio, conntrackPercent: ratio === null ? null : Math.floor(ratio * 100), conntrackNewMax: max * 2}
  },
  conditions: (c) => c.all(c.gte('conntrackRatio', WARN)),
  title: (h) => text`Connection tracking table is ${h.conntrackPercent}% full (${h.conntrackCount}/${h.conntrackMax})`,
  summary: () => 'When nf_conntrack_count reaches nf_conntrack_max the kernel drops new connections ("nf_conntrack: table full, dropping packet"): NAT guests see random timeouts.',
  evidence: (h) => [line`net.netfilter.nf_conntrack_count = ${h.conntrackCount}`, line`net.netfilter.nf_conntrack_max = ${h.conntrackMax}`, line`log: ${h.logConntrackFull}`],
  // Twice the current maximum, then the connections per guest address, most first, to find the flooding guest.
  fix: (h) => [
    cmd`sysctl -w net.netfilter.nf_conntrack_max=${h.conntrackNewMax}`,
    appendLines(SYSCTL_DROP_IN, [`net.netfilter.nf_conntrack_max = ${h.conntrackNewMax}`]),
  ],
  // Who fills the table: the busiest source addresses of the guests' subnets.
  check: (h) =>
    h.routedSubnets.map((s) => ({pipeline: [['conntrack', '-L', '-s', s], ['awk', '{for (i = 1; i <= NF; i++) if ($i ~ /^src=/) {print $i; break}}'], ['sort'], ['uniq', '-c'], ['sort', '-rn'], ['head']]})),
  note: (h) => [
    'the new maximum is twice the current one; a bigger table also wants more hash buckets (/sys/module/nf_conntrack/parameters/hashsize)',
    line`the last command counts connections per guest address in ${h.routedSubnets}: the top one is the guest filling the table`,
  ],
  fileToChange: () => 'etc/sysctl.d/90-kvmdoctor.conf',
  // A full table leaves the datapath unable to tell whether a new connection passes: this finding says why.
  owns: [
    {
      kind: 'sysctl',
      where: (el) => el.sysctl?.key === 'net.netfilter.nf_conntrack_max',
      covers: () => true,
      undo: (el) => cmd`sysctl -w net.netfilter.nf_conntrack_max=${el.sysctl!.value * 2}` ?? [],
    },
  ],
})
