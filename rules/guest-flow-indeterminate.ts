import type {ElementView} from '../src/derive/index.js'
import {DATAPATH, listChainOf, netfilterUndo} from './datapath.js'
import {cmd, defineRule, text} from './kit.js'

export default defineRule<ElementView>({
  id: 'guest-flow-indeterminate',
  kind: 'element',
  severity: 'low',
  needs: DATAPATH,
  general: true,
  conditions: (c) => c.all(c.eq('verdict', 'indeterminate')),
  title: (e) => text`Cannot tell whether guest traffic passes ${e.hop}: ${e.name}`,
  summary: (e) => text`The fate of ${e.affectedGuests} guest(s) traffic on ${e.bridges} depends on something the host state does not show: ${e.detail}. kvmdoctor does not guess.`,
  evidence: (e) => [...e.undecided, ...e.flows],
  // The chain's listing, by the tool that can read its table (nft for native and incompatible tables).
  fix: () => [],
  check: (e) => [cmd`kvmdoctor trace ${e.context.domain}`, listChainOf(e.element)],
  // A rule whose match cannot be told: deleting it is what would take it out of the way.
  owns: [{kind: 'nf-undecided', undo: netfilterUndo, lists: listChainOf}],
})
