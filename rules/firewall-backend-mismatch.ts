import type {HostView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

interface Mismatch {
  backendMismatch: boolean
}

export default defineRule<HostView, Mismatch>({
  id: 'firewall-backend-mismatch',
  kind: 'host',
  severity: 'high',
  needs: [probes.netfilter],
  // The warning without a listing that could have been read (not merely an absent iptables-legacy-save) proves nothing.
  known: ['legacyRulesKnown'],
  // Both firewalls doing something: rules in iptables-nft, and rules in legacy tables (or, when
  // iptables-legacy-save could not be read, the warning iptables-nft prints about them).
  derive: (h) => ({
    backendMismatch: h.iptablesVariant === 'nf_tables' && h.nftBackendRuleCount > 0 && (h.legacyTablesListed ? h.legacyRuleCount > 0 : h.legacyTablesWarning),
  }),
  conditions: (c) => c.all(c.eq('backendMismatch', true)),
  title: () => 'Rules live in both iptables-legacy and iptables-nft',
  summary: (h) =>
    text`Two firewalls are active at once: iptables-save (${h.iptablesVariant}) holds ${h.mainRuleCount} rules and the legacy tables ${h.legacyRuleCount}. Packets must pass both, and tools disagree about what is there ("table nat is incompatible, use nft").`,
  evidence: (h) => [
    line`iptables-save variant: ${h.iptablesVariant}; legacy tables warning: ${h.legacyTablesWarning}`,
    line`rules: ${h.mainRuleCount} in iptables-save, ${h.legacyRuleCount} in iptables-legacy-save`,
    line`log: ${h.logNftIncompatible}`,
  ],
  // Nothing is flushed: the legacy tables may hold a live MASQUERADE. The services re-create their
  // rules with iptables-nft; what is left in the legacy tables is the admin's to move (the check lists it).
  fix: () => [cmd`update-alternatives --set iptables /usr/sbin/iptables-nft`, cmd`update-alternatives --set ip6tables /usr/sbin/ip6tables-nft`, cmd`systemctl try-restart libvirtd docker firewalld`],
  check: () => [cmd`iptables-legacy-save`, cmd`ip6tables-legacy-save`],
  note: () => ['move the rules still needed from the legacy tables to iptables-nft, then flush them table by table (iptables-legacy -t TABLE -F); try-restart restarts only the services that run'],
})
