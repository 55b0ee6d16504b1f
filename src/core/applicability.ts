/**
 * Where each rule means something. A rule is evaluated on every entity of its
 * scope, but "forward-policy-drop on link lo" or "mtu-mismatch on a tap" is
 * no check anyone made: reports that list checks (JUnit) list a rule only on
 * the entities it applies to. A rule applies where it could fire given what
 * the entity is (its kind of device, hook, backend, forward mode, DHCP on or
 * off), whatever the state its fault is about. Rules not listed apply to every
 * entity of their scope. A test keeps this honest: no finding on any
 * recording lies outside its rule's applicability.
 */
import type {EntityView} from './model.js'

type Applies = (e: EntityView) => boolean

const activeNetwork: Applies = (e) => e.active === true
const dhcpNetwork: Applies = (e) => e.active === true && e.dhcpEnabled === true
const natNetwork: Applies = (e) => e.active === true && e.forwardMode === 'nat'
const bridge: Applies = (e) => e.linkKind === 'bridge'
const netfilterElement: Applies = (e) => e.elementKind === 'nf-rule' || e.elementKind === 'nf-policy'
const iptablesForward: Applies = (e) => netfilterElement(e) && e.hook === 'forward' && (e.backend === 'iptables-nft' || e.backend === 'iptables-legacy') && e.nfFamily === 'ip'
const nftForward: Applies = (e) => netfilterElement(e) && e.hook === 'forward' && e.backend === 'nft' && e.libvirtOwned === false
const hostInput: Applies = (e) => netfilterElement(e) && (e.hook === 'input' || e.hook === 'prerouting')

export const APPLIES: Record<string, Applies> = {
  // host
  'ip-forward-disabled': (e) => Number(e.routedNetworkCount) > 0,
  'default-route-missing': (e) => Number(e.routedNetworkCount) > 0,
  'rp-filter-strict': (e) => e.multiHomed === true,
  'vhost-net-missing': (e) => Number(e.kvmVirtioGuestCount) > 0,
  // network (dhcp-server-not-running also on an external dhcp-service, which is always active with DHCP)
  'dhcp-server-not-running': dhcpNetwork,
  'dhcp-range-exhausted': dhcpNetwork,
  'dhcp-pool-nearly-full': dhcpNetwork,
  'dhcp-lease-stale': (e) => e.dhcpEnabled === true,
  'dhcp-checksum-rule-missing': (e) => dhcpNetwork(e) && e.firewallBackend === 'iptables',
  'nat-masquerade-missing': natNetwork,
  'nat-masquerade-wrong-interface': (e) => natNetwork(e) && e.forwardDevState !== 'none',
  'libvirt-firewall-rules-missing': (e) => activeNetwork(e) && e.routed === true,
  'libvirt-network-inactive': (e) => e.autostart === true || Number(e.definedGuestCount) > 0,
  'libvirt-network-not-autostart': (e) => Array.isArray(e.autostartGuests) && e.autostartGuests.length > 0,
  'firewalld-zone-wrong': (e) => activeNetwork(e) && e.firewalldRunning === true,
  // link
  'link-down': (e) => e.matters === true,
  'mtu-mismatch': bridge,
  'stp-forward-delay': bridge,
  'bridge-netfilter-enabled': (e) => e.plainBridge === true && Number(e.guestPortCount) > 0,
  // interface and domain
  'tap-not-attached': (e) => e.tapCheckable === true,
  'mac-duplicate': (e) => e.running === true && typeof e.mac === 'string',
  'macvtap-host-isolation': (e) => e.isDirect === true,
  'guest-agent-missing': (e) => e.running === true,
  // datapath elements
  'forward-policy-drop': iptablesForward,
  'nft-forward-drop': nftForward,
  'host-input-blocks-dhcp-dns': hostInput,
  'policy-route-diverts-guests': (e) => e.elementKind === 'policy-rule',
}

export function ruleApplies(ruleId: string, entity: EntityView): boolean {
  return APPLIES[ruleId]?.(entity) ?? true
}
