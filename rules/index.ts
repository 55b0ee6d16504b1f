import {rule as apipaAddress} from './apipa-address.js'
import {rule as defaultRouteMissing} from './default-route-missing.js'
import {rule as dhcpServerNotRunning} from './dhcp-server-not-running.js'
import {rule as ipForwardDisabled} from './ip-forward-disabled.js'
import {rule as libvirtNetworkInactive} from './libvirt-network-inactive.js'
import {rule as linkDown} from './link-down.js'
import {rule as natMasqueradeMissing} from './nat-masquerade-missing.js'
import {rule as tapNotAttached} from './tap-not-attached.js'
import type {RuleDefinition} from './types.js'

export const ALL_RULES: RuleDefinition[] = [
  ipForwardDisabled,
  natMasqueradeMissing,
  libvirtNetworkInactive,
  dhcpServerNotRunning,
  apipaAddress,
  defaultRouteMissing,
  linkDown,
  tapNotAttached,
]
