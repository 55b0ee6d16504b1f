import type {HostView} from '../src/derive/index.js'
import {type FixStep, cmd, defineRule, line, probes, text} from './kit.js'

/** Targets a legacy rule may have to be moved as it is: it passes, returns or translates, and needs no chain of its own. */
const MOVABLE_TARGETS = new Set(['ACCEPT', 'RETURN', 'MASQUERADE', 'SNAT', 'DNAT', 'REDIRECT', 'CHECKSUM'])

interface Mismatch {
  backendMismatch: boolean
  /**
   * Every legacy rule is a plain rule of a built-in chain (no jump, no drop): each can be moved as it is. A drop, a
   * jump or a chain of the admin's own is theirs to move (the note says so): no fix lines then.
   */
  legacyMovable: boolean
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
    legacyMovable: h.legacyTablesListed && h.legacyRules.length > 0 && h.legacyRules.every((r) => r.inNft || (r.builtinChain && r.target !== null && MOVABLE_TARGETS.has(r.target))),
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
  // `iptables` is iptables-nft already (the save header says nf_tables): no alternative to switch, no service to
  // restart. Ordered: every live legacy rule is first appended, the same, to iptables-nft (where it keeps acting on
  // the packets), and only then each is deleted from the legacy tables by its exact specification, never a flush:
  // a legacy rule goes only once the same rule is proven in iptables-nft.
  fix: (h) => (h.legacyMovable ? legacyMoves(h.legacyRules) : []),
  check: () => [cmd`iptables-legacy-save`, cmd`ip6tables-legacy-save`],
  note: (h) => [
    h.legacyMovable
      ? 'each legacy rule is added to iptables-nft first (one iptables already holds is not added twice), then deleted from the legacy tables; the empty legacy tables stay, and are no mismatch'
      : 'the legacy tables hold drops, jumps or chains of their own: move them to iptables-nft by hand (iptables-legacy-save | iptables-nft-restore --noflush for a whole table), check, then delete each from the legacy tables',
  ],
})

/** The legacy rules moved to iptables-nft (each added unless already there), then deleted from the legacy tables. */
function legacyMoves(rules: HostView['legacyRules']): FixStep[] {
  const tool = (r: (typeof rules)[number], backend: 'nft' | 'legacy') => `${r.family === 'ip6' ? 'ip6tables' : 'iptables'}-${backend}`
  return [
    ...rules.filter((r) => !r.inNft).flatMap((r) => cmd`${tool(r, 'nft')} -t ${r.table} -A ${r.chain} ${r.spec}` ?? []),
    ...rules.flatMap((r) => cmd`${tool(r, 'legacy')} -t ${r.table} -D ${r.chain} ${r.spec}` ?? []),
  ]
}
