/** The rule contract lives in core (src/core/rule.ts); rules implement it. */
export type {RuleDefinition} from '../src/core/rule.js'
