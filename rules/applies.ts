/** Where rules mean something, shared by the rules that apply to the same kind of entity (see `appliesTo`). */
import type {LinkView, NetworkView} from '../src/derive/index.js'

export const activeNetwork = (e: NetworkView) => e.active
export const dhcpNetwork = (e: NetworkView) => e.active && e.dhcpEnabled
export const natNetwork = (e: NetworkView) => e.active && e.forwardMode === 'nat'
export const bridge = (e: LinkView) => e.linkKind === 'bridge'
