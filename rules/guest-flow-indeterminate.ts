import {DATAPATH_REQUIRES} from './datapath.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'guest-flow-indeterminate',
  severity: 'low',
  scope: 'element',
  title: 'Cannot tell whether guest traffic passes {hop}: {name}',
  requires: DATAPATH_REQUIRES,
  fallback: true,
  conditions: {all: [{fact: 'entity', path: 'verdict', operator: 'equal', value: 'indeterminate'}]},
  summary: 'The fate of {affectedGuests} guest(s) traffic on {bridges} depends on something the host state does not show: {detail}. kvmdoctor does not guess.',
  evidence: ['{undecided}', '{flows}'],
  fix: ['kvmdoctor trace {context.domain}'],
  fixLines(e) {
    const guest = String(e.context.domain ?? '')
    // The chain's listing, by the tool that can read its table (nft for native and incompatible tables).
    return [`kvmdoctor trace ${guest}`, ...(typeof e.listChain === 'string' ? [e.listChain] : [])]
  },
}
