import {rule as apipaAddress} from './apipa-address.js'
import {rule as arpFlux} from './arp-flux.js'
import {rule as bridgeNetfilterEnabled} from './bridge-netfilter-enabled.js'
import {rule as conntrackTableFull} from './conntrack-table-full.js'
import {rule as defaultRouteMissing} from './default-route-missing.js'
import {rule as defaultRouteMultiple} from './default-route-multiple.js'
import {rule as dhcpChecksumRuleMissing} from './dhcp-checksum-rule-missing.js'
import {rule as dhcpLeaseStale} from './dhcp-lease-stale.js'
import {rule as dhcpPoolNearlyFull} from './dhcp-pool-nearly-full.js'
import {rule as dhcpRangeExhausted} from './dhcp-range-exhausted.js'
import {rule as dhcpServerNotRunning} from './dhcp-server-not-running.js'
import {rule as dnsPortConflict} from './dns-port-conflict.js'
import {rule as firewallBackendMismatch} from './firewall-backend-mismatch.js'
import {rule as firewalldZoneWrong} from './firewalld-zone-wrong.js'
import {rule as forwardPolicyDrop} from './forward-policy-drop.js'
import {rule as guestAgentMissing} from './guest-agent-missing.js'
import {rule as guestFlowBlocked} from './guest-flow-blocked.js'
import {rule as guestFlowIndeterminate} from './guest-flow-indeterminate.js'
import {rule as hostInputBlocksDhcpDns} from './host-input-blocks-dhcp-dns.js'
import {rule as ipAddressConflict} from './ip-address-conflict.js'
import {rule as ipForwardDisabled} from './ip-forward-disabled.js'
import {rule as libvirtFirewallRulesMissing} from './libvirt-firewall-rules-missing.js'
import {rule as libvirtNetworkInactive} from './libvirt-network-inactive.js'
import {rule as libvirtNetworkNotAutostart} from './libvirt-network-not-autostart.js'
import {rule as linkDown} from './link-down.js'
import {rule as macDuplicate} from './mac-duplicate.js'
import {rule as macvtapHostIsolation} from './macvtap-host-isolation.js'
import {rule as mtuMismatch} from './mtu-mismatch.js'
import {rule as natMasqueradeMissing} from './nat-masquerade-missing.js'
import {rule as natMasqueradeWrongInterface} from './nat-masquerade-wrong-interface.js'
import {rule as nftForwardDrop} from './nft-forward-drop.js'
import {rule as policyRouteDivertsGuests} from './policy-route-diverts-guests.js'
import {rule as rpFilterStrict} from './rp-filter-strict.js'
import {rule as stpForwardDelay} from './stp-forward-delay.js'
import {rule as subnetOverlap} from './subnet-overlap.js'
import {rule as tapNotAttached} from './tap-not-attached.js'
import {rule as vhostNetMissing} from './vhost-net-missing.js'
import {rule as firewallServiceOrder} from './firewall-service-order.js'
import {rule as ipv6AcceptRaConflict} from './ipv6-accept-ra-conflict.js'
import {rule as netfilterModuleMissing} from './netfilter-module-missing.js'
import {rule as macvtapRxFilterUntrusted} from './macvtap-rx-filter-untrusted.js'
import {rule as ipv6ForwardDrop} from './ipv6-forward-drop.js'
import {rule as iptablesNftIncompatible} from './iptables-nft-incompatible.js'
import {rule as dhcpClientIdDuplicate} from './dhcp-client-id-duplicate.js'
import {rule as dhcpNoOffer} from './dhcp-no-offer.js'
import {rule as guestAddressForeign} from './guest-address-foreign.js'
import {rule as guestSilent} from './guest-silent.js'
import {rule as rogueDhcpServer} from './rogue-dhcp-server.js'
import {rule as snatAddressNotLocal} from './snat-address-not-local.js'
import {rule as guestUnaddressedNetwork} from './guest-unaddressed-network.js'
import {rule as routedNetworkNoReturnRoute} from './routed-network-no-return-route.js'
import {rule as guestGatewayUnanswered} from './guest-gateway-unanswered.js'
import {rule as guestNetmaskWrong} from './guest-netmask-wrong.js'
import {rule as guestDnsUnanswered} from './guest-dns-unanswered.js'
import {rule as dhcpRequestForeign} from './dhcp-request-foreign.js'
import {rule as ipv6DadFailed} from './ipv6-dad-failed.js'
import {rule as guestProxyArp} from './guest-proxy-arp.js'
import type {RuleDefinition} from './types.js'

/** In knowledge-base order. */
export const ALL_RULES: RuleDefinition[] = [
  ipForwardDisabled,
  natMasqueradeMissing,
  natMasqueradeWrongInterface,
  ipAddressConflict,
  apipaAddress,
  defaultRouteMissing,
  defaultRouteMultiple,
  linkDown,
  dhcpServerNotRunning,
  dhcpRangeExhausted,
  dhcpPoolNearlyFull,
  dhcpLeaseStale,
  libvirtNetworkInactive,
  libvirtNetworkNotAutostart,
  libvirtFirewallRulesMissing,
  forwardPolicyDrop,
  bridgeNetfilterEnabled,
  nftForwardDrop,
  firewallBackendMismatch,
  firewalldZoneWrong,
  dnsPortConflict,
  subnetOverlap,
  tapNotAttached,
  macDuplicate,
  mtuMismatch,
  stpForwardDelay,
  macvtapHostIsolation,
  guestAgentMissing,
  vhostNetMissing,
  conntrackTableFull,
  rpFilterStrict,
  arpFlux,
  dhcpChecksumRuleMissing,
  hostInputBlocksDhcpDns,
  firewallServiceOrder,
  ipv6AcceptRaConflict,
  policyRouteDivertsGuests,
  netfilterModuleMissing,
  macvtapRxFilterUntrusted,
  ipv6ForwardDrop,
  iptablesNftIncompatible,
  dhcpClientIdDuplicate,
  guestSilent,
  dhcpNoOffer,
  rogueDhcpServer,
  guestAddressForeign,
  snatAddressNotLocal,
  guestUnaddressedNetwork,
  routedNetworkNoReturnRoute,
  guestGatewayUnanswered,
  guestNetmaskWrong,
  guestDnsUnanswered,
  dhcpRequestForeign,
  ipv6DadFailed,
  guestProxyArp,
  guestFlowBlocked,
  guestFlowIndeterminate,
]
