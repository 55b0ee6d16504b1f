/** Parsers of the host's packet filter listings into the netfilter IR (src/lib/netfilter.ts). */
export {type IptablesBackend, type IptablesSaveOptions, detectIptablesVariant, parseIptablesRuleOptions, parseIptablesSaveIR} from './iptables-save.js'
export {type IpsetResult, parseIpsetIR} from './ipset.js'
export {type NftJsonOptions, type NftJsonResult, parseNftJsonIR, parseNftListing, parseNftRuleExprs, renderNftJson, setKey} from './nft-json.js'
export {renderExpr, renderRule, renderStatement, renderValue} from './render.js'
export {type IptablesSource, type RulesetSources, buildRuleset} from './ruleset.js'
export {TCP_FLAGS, l4protoNumber, l4protoValue, tcpFlagNames} from './names.js'
