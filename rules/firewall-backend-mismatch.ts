import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'firewall-backend-mismatch',
  severity: 'high',
  scope: 'host',
  title: 'Rules live in both iptables-legacy and iptables-nft',
  requires: ['netfilter'],
  // The warning without a listing that could have been read (not merely an absent iptables-legacy-save) proves nothing.
  needs: ['legacyRulesKnown'],
  // Both firewalls doing something: rules in iptables-nft, and rules in legacy tables (or, when
  // iptables-legacy-save could not be read, the warning iptables-nft prints about them).
  derive: (e) => ({
    backendMismatch:
      e.iptablesVariant === 'nf_tables' && Number(e.nftBackendRuleCount) > 0 && (e.legacyTablesListed === true ? Number(e.legacyRuleCount) > 0 : e.legacyTablesWarning === true),
  }),
  conditions: {all: [{fact: 'entity', path: 'backendMismatch', operator: 'equal', value: true}]},
  summary: 'Two firewalls are active at once: iptables-save ({iptablesVariant}) holds {mainRuleCount} rules and the legacy tables {legacyRuleCount}. Packets must pass both, and tools disagree about what is there ("table nat is incompatible, use nft").',
  evidence: ['iptables-save variant: {iptablesVariant}; legacy tables warning: {legacyTablesWarning}', 'rules: {mainRuleCount} in iptables-save, {legacyRuleCount} in iptables-legacy-save', 'log: {logNftIncompatible}'],
  fix: ['update-alternatives --set iptables /usr/sbin/iptables-nft', 'iptables-legacy -F; iptables-legacy -t nat -F', 'systemctl try-restart libvirtd docker firewalld'],
  note: ['flush the legacy tables only after moving the rules still needed to iptables-nft; try-restart restarts only the services that run'],
}
