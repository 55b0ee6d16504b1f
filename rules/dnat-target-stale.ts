import type {ForwardView} from '../src/derive/index.js'
import {DATAPATH, iptablesTool, iptablesWords} from './datapath.js'
import {cmd, defineRule, type FixStep, line, nftOneCommand, nftWord, probes, text, virshQuoted} from './kit.js'

/**
 * One rule of the forward with its target address replaced, for the guest's new address: the new rule in
 * the old one's place first, then the old one out (no moment without a forward). An nft map's entry is
 * not rewritten here (the map may hold other guests'): none then.
 */
function retarget(e: ForwardView, r: NonNullable<ForwardView['rule']>, now: string): FixStep[] {
  if (/\bmap\b/.test(r.text)) return []
  const replaced = r.text.replace(new RegExp(`(^|[^0-9.])${e.targetAddress.replaceAll('.', '\\.')}(?![0-9])`, 'g'), `$1${now}`)
  if (replaced === r.text) return []
  // nft reads its argument words joined: the rule's own text follows the handle as words of nft's syntax, which must
  // stay one command (a comment as nft prints it can end it) in a table and chain nft can name.
  if (r.backend === 'nft') {
    if (r.handle === null || !nftWord(r.table) || !nftWord(r.chain) || !nftOneCommand(replaced)) return []
    return [{argv: ['nft', 'replace', 'rule', r.family, r.table, r.chain, 'handle', String(r.handle), ...replaced.split(/\s+/).filter(Boolean)]}]
  }
  const tool = iptablesTool({backend: r.backend, family: r.family})
  const [append, chain, ...rest] = iptablesWords(replaced)
  const [, , ...oldWords] = iptablesWords(r.text)
  if (append !== '-A' || chain === undefined) return []
  return [
    {argv: [tool, '-t', r.table, '-I', chain, String(r.position), ...rest]},
    {argv: [tool, '-t', r.table, '-D', chain, ...oldWords]},
  ]
}

/** The network pins the target address to the MAC of the guest last seen there (the admin's pin, not yet renewed into). */
const pinnedBack = (e: ForwardView) => e.targetPinnedTo !== null && e.targetPinnedTo === e.formerHolderMac?.toLowerCase()

export default defineRule<ForwardView>({
  id: 'dnat-target-stale',
  kind: 'forward',
  severity: 'high',
  needs: [...DATAPATH, probes.leases, probes.neighbours],
  // A forward into a libvirt network whose target is not a guest's own address (a routed publish has no translation to go
  // stale) nor the host's (its gateway address: a service on the host, no guest's to lose).
  appliesTo: (e) => !e.direct && e.targetNetwork !== null && e.targetAddress !== 'unknown' && e.targetIsHost !== true,
  // Not while a running guest of its network has an address no source reports: the target may be that guest's.
  conditions: (c) => c.all(c.eq('targetGuest', null), c.eq('targetMaybeHeldBy.length', 0)),
  title: (e) => text`The forward ${e.name} points at ${e.targetAddress}, which no running guest holds`,
  summary: (e) =>
    text`Connections from outside to ${e.proto} port ${e.port} are sent to ${e.targetAddress}:${e.targetPort} on network ${e.targetNetwork}, an address no running guest holds now: they go nowhere. Leases change when a guest is recreated, its lease expires while it is off, or another guest takes the address first.`,
  evidence: (e) => [
    ...e.rules,
    line`forward found in: ${e.foundBy}`,
    e.formerHolder
      ? text`probably moved: ${e.formerHolder} (${e.formerHolderMac}) was last seen at ${e.targetAddress}${e.formerHolderNow ? ` and holds ${e.formerHolderNow} now (its current lease)` : ' and holds no address now'}`
      : undefined,
    e.targetPinnedTo ? text`network ${e.targetNetwork}'s static DHCP host: <host mac='${e.targetPinnedTo}' ip='${e.targetAddress}'/>` : undefined,
    ...e.flows,
  ],
  // A guest the network pins to the target address returns to it at its next renewal: the forward stays where it is.
  // Every rule of the forward follows the guest: the outside's and the host's own (nat output), each in its place.
  fix: (e) => (e.formerHolder && e.formerHolderNow && !pinnedBack(e) ? e.dnatRules.map((r) => retarget(e, r, e.formerHolderNow!)) : []),
  check: (e) => [e.rule ? (e.rule.backend === 'nft' ? cmd`nft -a list chain ${e.rule.family} ${e.rule.table} ${e.rule.chain}` : cmd`${iptablesTool({backend: e.rule.backend, family: e.rule.family})} -t ${e.rule.table} --list-rules ${e.rule.chain}`) : undefined],
  note: (e) => [
    pinnedBack(e)
      ? `network ${e.targetNetwork} gives ${e.formerHolderMac} the address ${e.targetAddress} (<host> in its <dhcp>): ${e.formerHolder} takes it back when it next renews its lease; renew it now inside the guest (e.g. networkctl renew IFACE, or dhclient -r IFACE then dhclient IFACE) rather than moving the forward`
      : e.formerHolder && e.formerHolderMac && e.targetNetwork
      ? `or keep the forward and give ${e.formerHolder} its old address for good: virsh net-update ${virshQuoted(['net-update'], e.targetNetwork)} add ip-dhcp-host "<host mac='${e.formerHolderMac}' ip='${e.targetAddress}'/>" --live --config, then renew its lease inside the guest`
      : undefined,
    line`a forward kept in a hook or a firewall configuration (${e.hookFiles}) is changed there too`,
  ],
})
