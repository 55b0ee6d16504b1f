import {DATAPATH_REQUIRES, undoOf} from './datapath.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'guest-flow-blocked',
  severity: 'critical',
  scope: 'element',
  title: 'Guest traffic stops at {hop}: {name}',
  requires: DATAPATH_REQUIRES,
  // Only where no more specific pattern names the element.
  fallback: true,
  conditions: {all: [{fact: 'entity', path: 'verdict', operator: 'equal', value: 'fail'}]},
  summary: '{affectedGuests} guest(s) on {bridges}: {detail}.',
  evidence: ['decided by: {name}', '{flows}'],
  fix: ['{undo}'],
  fixLines: (e) => undoOf(e),
}
