import {iptablesRuleWords} from '../probes/netfilter/iptables-save.js'
import {shellQuote} from '../src/lib/shell.js'
import {DATAPATH_REQUIRES} from './datapath.js'
import type {RuleDefinition} from './types.js'

/** An iptables rule's words as a shell command line: options bare, every value quoted. */
const quotedWords = (words: string[]) => words.map((w) => (/^--?[A-Za-z][A-Za-z0-9-]*$/.test(w) ? w : shellQuote(w))).join(' ')

/** The forward's rule with its target address replaced (iptables-save or nft text), for the new address. */
function retarget(e: Record<string, unknown>, now: string): string[] {
  const old = String(e.targetAddress)
  const text = typeof e.ruleText === 'string' ? e.ruleText : undefined
  if (!text || /\bmap\b/.test(text)) return []
  const replaced = text.replace(new RegExp(`(^|[^0-9.])${old.replaceAll('.', '\\.')}(?![0-9])`, 'g'), `$1${now}`)
  if (replaced === text) return []
  // nft joins its argument words: the whole command is one quoted shell word.
  if (e.ruleBackend === 'nft') return e.ruleHandle === null ? [] : [`nft ${shellQuote(`replace rule ${e.ruleFamily} ${e.ruleTable} ${e.ruleChain} handle ${e.ruleHandle} ${replaced}`)}`]
  const tool = e.ruleBackend === 'iptables-legacy' ? 'iptables-legacy' : 'iptables'
  const [append, chain, ...rest] = iptablesRuleWords(replaced)
  const [, , ...oldWords] = iptablesRuleWords(text)
  if (append !== '-A' || chain === undefined) return []
  // The new rule in the old one's place first, then the old one out: no moment without a forward.
  return [`${tool} -t ${shellQuote(String(e.ruleTable))} ${quotedWords(['-I', chain, String(e.rulePosition), ...rest])}`, `${tool} -t ${shellQuote(String(e.ruleTable))} ${quotedWords(['-D', chain, ...oldWords])}`]
}

export const rule: RuleDefinition = {
  id: 'dnat-target-stale',
  severity: 'high',
  scope: 'forward',
  // A forward into a libvirt network whose target is not a guest's own address (a routed publish has no translation to go stale).
  appliesTo: (e) => e.direct === false && e.targetNetwork !== null && e.targetAddress !== 'unknown',
  title: 'The forward {name} points at {targetAddress}, which no running guest holds',
  requires: [...DATAPATH_REQUIRES, 'leases', 'neighbours'],
  conditions: {
    all: [
      {fact: 'entity', path: 'targetGuest', operator: 'equal', value: null},
      {fact: 'entity', path: 'targetNetwork', operator: 'notEqual', value: null},
      {fact: 'entity', path: 'direct', operator: 'equal', value: false},
    ],
  },
  derive: (e) => ({
    moved: e.formerHolder ? [`${e.formerHolder} (${e.formerHolderMac}) was last seen at ${e.targetAddress}${e.formerHolderNow ? ` and holds ${e.formerHolderNow} now (its current lease)` : ' and holds no address now'}`] : [],
    retargetFix: e.formerHolder && e.formerHolderNow ? retarget(e, String(e.formerHolderNow)) : [],
    pinNote:
      e.formerHolder && e.formerHolderMac && e.targetNetwork
        ? [`or keep the forward and give ${e.formerHolder} its old address for good: virsh net-update ${e.targetNetwork} add ip-dhcp-host "<host mac='${e.formerHolderMac}' ip='${e.targetAddress}'/>" --live --config, then renew its lease inside the guest`]
        : [],
  }),
  summary: 'Connections from outside to {proto} port {port} are sent to {targetAddress}:{targetPort} on network {targetNetwork}, an address no running guest holds now: they go nowhere. Leases change when a guest is recreated, its lease expires while it is off, or another guest takes the address first.',
  evidence: ['{rules}', 'forward found in: {foundBy}', 'probably moved: {moved}', '{flows}'],
  fix: ['{retargetFix}'],
  note: ['{pinNote}', 'a forward kept in a hook or a firewall configuration ({hookFiles}) is changed there too'],
}
