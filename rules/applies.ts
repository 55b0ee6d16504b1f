/** Where rules mean something, shared by the rules that apply to the same kind of entity (see `appliesTo`). */
import type {EntityView} from '../src/derive/index.js'

type Applies = (e: EntityView) => boolean

export const activeNetwork: Applies = (e) => e.active === true
export const dhcpNetwork: Applies = (e) => e.active === true && e.dhcpEnabled === true
export const natNetwork: Applies = (e) => e.active === true && e.forwardMode === 'nat'
export const bridge: Applies = (e) => e.linkKind === 'bridge'
const netfilterElement: Applies = (e) => e.elementKind === 'nf-rule' || e.elementKind === 'nf-policy'
export const iptablesForward: Applies = (e) => netfilterElement(e) && e.hook === 'forward' && (e.backend === 'iptables-nft' || e.backend === 'iptables-legacy') && e.nfFamily === 'ip'
export const nftForward: Applies = (e) => netfilterElement(e) && e.hook === 'forward' && e.backend === 'nft' && e.libvirtOwned === false
/** A netfilter rule or policy of the forward hook, any backend and family (IPv6 ones included). */
export const forwardElement: Applies = (e) => netfilterElement(e) && e.hook === 'forward'
export const hostInput: Applies = (e) => netfilterElement(e) && (e.hook === 'input' || e.hook === 'prerouting')
