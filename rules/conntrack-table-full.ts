import type {HostView} from '../src/derive/index.js'
import {appendLines, cmd, defineRule, line, probes, SYSCTL_DROP_IN, text} from './kit.js'

/** Share of nf_conntrack_max in use that raises the finding, and that makes it high. */
const WARN = 0.8
const HIGH = 0.95
/**
 * The kernel sizes nf_conntrack_max from memory at boot: its hash table (nf_conntrack_buckets) times one (Linux 5.15
 * on): 65536 on a 64-bit host with 1 to 4 GiB, 262144 above. 65536 stands for it when the table size was not read.
 */
const KERNEL_DEFAULT_FLOOR = 65536

/**
 * What nf_conntrack_max is raised to: the kernel's own default for this host (a maximum lowered below it is the
 * fault, not a value to keep), or twice the current maximum when an admin already set it higher.
 */
const conntrackMaxToSet = (max: number, buckets: number | null | undefined) => Math.max(buckets ?? KERNEL_DEFAULT_FLOOR, max * 2)

interface Usage {
  conntrackRatio: number | null
  conntrackPercent: number | null
  /** What to raise nf_conntrack_max to (conntrackMaxToSet). */
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
    return {conntrackRatio: ratio, conntrackPercent: ratio === null ? null : Math.floor(ratio * 100), conntrackNewMax: conntrackMaxToSet(max, h.conntrackBuckets)}
  },
  conditions: (c) => c.all(c.gte('conntrackRatio', WARN)),
  title: (h) => text`Connection tracking table is ${h.conntrackPercent}% full (${h.conntrackCount}/${h.conntrackMax})`,
  summary: () => 'When nf_conntrack_count reaches nf_conntrack_max the kernel drops new connections ("nf_conntrack: table full, dropping packet"): NAT guests see random timeouts.',
  evidence: (h) => [line`net.netfilter.nf_conntrack_count = ${h.conntrackCount}`, line`net.netfilter.nf_conntrack_max = ${h.conntrackMax}`, line`log: ${h.logConntrackFull}`],
  // The kernel's default (or twice an admin's higher maximum), set and persisted: never the full table's own value.
  fix: (h) => [
    cmd`sysctl -w net.netfilter.nf_conntrack_max=${h.conntrackNewMax}`,
    appendLines(SYSCTL_DROP_IN, [`net.netfilter.nf_conntrack_max = ${h.conntrackNewMax}`]),
  ],
  // Who fills the table: the busiest source addresses of the guests' subnets.
  check: (h) =>
    h.routedSubnets.map((s) => ({pipeline: [['conntrack', '-L', '-s', s], ['awk', '{for (i = 1; i <= NF; i++) if ($i ~ /^src=/) {print $i; break}}'], ['sort'], ['uniq', '-c'], ['sort', '-rn'], ['head']]})),
  note: (h) => [
    h.conntrackBuckets !== null
      ? line`the new maximum is the kernel's default for this host (its hash table, nf_conntrack_buckets = ${h.conntrackBuckets}), or twice the current one when that is higher; past the table size, raise /sys/module/nf_conntrack/parameters/hashsize too`
      : line`the new maximum is ${h.conntrackNewMax}: the kernel's default on a 1-4 GiB host (nf_conntrack_buckets was not read), or twice the current one when that is higher`,
    line`the last command counts connections per guest address in ${h.routedSubnets}: the top one is the guest filling the table`,
  ],
  fileToChange: () => 'etc/sysctl.d/90-kvmdoctor.conf',
  // A full table leaves the datapath unable to tell whether a new connection passes: this finding says why.
  owns: [
    {
      kind: 'sysctl',
      where: (el) => el.sysctl?.key === 'net.netfilter.nf_conntrack_max',
      covers: () => true,
      undo: (el) => cmd`sysctl -w net.netfilter.nf_conntrack_max=${conntrackMaxToSet(el.sysctl!.value, el.sysctl!.buckets)}` ?? [],
    },
  ],
})
