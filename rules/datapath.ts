/** What the rules on datapath elements share: the probes the datapath needs, and the commands that change netfilter elements. */
import type {Element} from '../src/datapath/elements.js'
import type {ElementView} from '../src/derive/index.js'
import {probes} from './kit.js'

/** Without any of these the flows cannot be followed: such rules are "not checked". */
export const DATAPATH = [probes.netfilter, probes.routes, probes.ipRules, probes.links, probes.sysctl, probes.libvirt]

/** The tool that edits an iptables element's table (iptables, ip6tables, their legacy twins). */
export function iptablesTool(e: {backend?: string | null; family?: string | null}): string {
  const six = e.family === 'ip6'
  return e.backend === 'iptables-legacy' ? (six ? 'ip6tables-legacy' : 'iptables-legacy') : six ? 'ip6tables' : 'iptables'
}

/** The tool of an element's view (its family is `nfFamily` there). */
export const toolOfView = (e: ElementView) => iptablesTool({backend: e.backend, family: e.nfFamily})

/**
 * A netfilter rule deleted, a chain policy set back to accept: with nft where only nft can change
 * the table (a native one, or an iptables-nft table iptables cannot print), else iptables by spec.
 */
export function netfilterUndo(el: Element): string[] {
  const tool = iptablesTool(el)
  if (el.kind === 'nf-policy') return el.nftSyntax ? [`nft 'chain ${el.family} ${el.nfTable} ${el.chain} { policy accept; }'`] : [`${tool} -t ${el.nfTable} -P ${el.chain} ACCEPT`]
  if (el.ruleText === undefined) return []
  if (el.nftSyntax) {
    return el.handle !== undefined
      ? [`nft delete rule ${el.family} ${el.nfTable} ${el.chain} handle ${el.handle}`]
      : [`nft -a list chain ${el.family} ${el.nfTable} ${el.chain}   # then: nft delete rule ${el.family} ${el.nfTable} ${el.chain} handle N`]
  }
  // Deleting by specification is iptables-save's line with -D.
  return [`${tool} -t ${el.nfTable} ${el.ruleText.replace(/^-A /, '-D ')}`]
}

/** The command that lists a netfilter element's chain, with the tool that can read its table (nft for native and incompatible tables). */
export function listChainOf(el: Element): string | undefined {
  if (el.nfTable === undefined || el.chain === undefined) return undefined
  return el.nftSyntax ? `nft -a list chain ${el.family} ${el.nfTable} ${el.chain}` : `${iptablesTool(el)} -t ${el.nfTable} --list-rules ${el.chain}`
}

/** A netfilter rule or chain policy (not one whose match could not be told). */
export const netfilterElement = (e: ElementView) => e.elementKind === 'nf-rule' || e.elementKind === 'nf-policy'
