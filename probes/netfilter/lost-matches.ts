/**
 * What iptables-save left out of a rule of its own table that nft's listing of the same rule shows.
 *
 * iptables-nft 1.8.9 lists a rule added with nft whose expressions it half understands by what it
 * understands: `ip daddr { 192.0.2.1, 192.0.2.2 } drop` (a set lookup) comes out as "-A FORWARD -j DROP",
 * `iifname { "a", "b" } accept` as "-A FORWARD -j ACCEPT": a rule that reads as matching every packet.
 * The table is not marked incompatible, so only the two listings side by side tell.
 */
import type {NfField, NfRule} from '../../src/lib/netfilter.js'

/** Fields nft's reading matches on (dependencies nft adds by itself aside) that iptables-save's reading never tests. */
export function matchesLeftOut(printed: NfRule, fromNft: NfRule): NfField[] {
  const tested = new Set<NfField>()
  for (const e of printed.exprs) {
    if (e.kind !== 'cmp') continue
    tested.add(e.field)
    for (const f of e.concat ?? []) tested.add(f)
  }
  const lost = new Set<NfField>()
  for (const e of fromNft.exprs) {
    if (e.kind !== 'cmp' || e.implicit) continue
    for (const f of [e.field, ...(e.concat ?? [])]) if (!tested.has(f)) lost.add(f)
  }
  // A verdict map decides by a field too: iptables has nothing like it.
  for (const e of fromNft.exprs) if (e.kind === 'vmap' && !printed.exprs.some((p) => p.kind === 'vmap')) lost.add(e.field)
  return [...lost]
}
