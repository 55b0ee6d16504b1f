import {REGISTRY} from './registry.generated.js'
import type {Rule} from './kit.js'

/**
 * Every rule, in the knowledge base's order, then the expectation rules of kvmdoctor.yaml.
 * The list is written from the files of rules/ (scripts/rules-registry.mjs): a rule is
 * registered by existing, with its doc beside it.
 */
export const ALL_RULES: Rule[] = REGISTRY
