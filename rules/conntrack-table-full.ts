import type {RuleDefinition} from './types.js'

/** Share of nf_conntrack_max in use that raises the finding, and that makes it high. */
const WARN = 0.8
const HIGH = 0.95

export const rule: RuleDefinition = {
  id: 'conntrack-table-full',
  severity: 'medium',
  escalate: {when: 'conntrackHigh', severity: 'high'},
  scope: 'host',
  title: 'Connection tracking table is {conntrackPercent}% full ({conntrackCount}/{conntrackMax})',
  requires: ['sysctl'],
  needs: ['conntrackCount', 'conntrackMax'],
  derive: (e) => {
    const count = Number(e.conntrackCount)
    const max = Number(e.conntrackMax)
    const ratio = max > 0 ? count / max : null
    return {
      conntrackRatio: ratio,
      conntrackPercent: ratio === null ? null : Math.floor(ratio * 100),
      // Past 95% new connections start failing in bursts: high, not a warning.
      conntrackHigh: ratio !== null && ratio >= HIGH,
      /** What to raise nf_conntrack_max to: twice the current maximum. */
      conntrackNewMax: max * 2,
    }
  },
  conditions: {all: [{fact: 'entity', path: 'conntrackRatio', operator: 'greaterThanInclusive', value: WARN}]},
  summary: 'When nf_conntrack_count reaches nf_conntrack_max the kernel drops new connections ("nf_conntrack: table full, dropping packet"): NAT guests see random timeouts.',
  evidence: ['net.netfilter.nf_conntrack_count = {conntrackCount}', 'net.netfilter.nf_conntrack_max = {conntrackMax}', 'log: {logConntrackFull}'],
  fix: [
    'sysctl -w net.netfilter.nf_conntrack_max={conntrackNewMax}',
    "echo 'net.netfilter.nf_conntrack_max = {conntrackNewMax}' >> /etc/sysctl.d/90-kvmdoctor.conf",
  ],
  fixLines(e) {
    // Twice the current maximum, then the connections per guest address, most first, to find the flooding guest.
    const raise = [`sysctl -w net.netfilter.nf_conntrack_max=${e.conntrackNewMax}`, `echo 'net.netfilter.nf_conntrack_max = ${e.conntrackNewMax}' >> /etc/sysctl.d/90-kvmdoctor.conf`]
    const subnets = Array.isArray(e.routedSubnets) ? (e.routedSubnets as string[]) : []
    return [...raise, ...subnets.map((s) => `conntrack -L -s ${s} 2>/dev/null | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^src=/) {print $i; break}}' | sort | uniq -c | sort -rn | head`)]
  },
  note: [
    'the new maximum is twice the current one; a bigger table also wants more hash buckets (/sys/module/nf_conntrack/parameters/hashsize)',
    'the last command counts connections per guest address in {routedSubnets}: the top one is the guest filling the table',
  ],
  claims: ['sysctl:net.netfilter.nf_conntrack_max'],
}
