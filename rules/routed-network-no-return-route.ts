import {DATAPATH_REQUIRES} from './datapath.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'routed-network-no-return-route',
  severity: 'medium',
  scope: 'element',
  appliesTo: (e) => e.elementKind === 'return-route',
  title: 'Replies to the routed network {context.network} depend on a route the host cannot see',
  requires: DATAPATH_REQUIRES,
  // The guests' packets leave untranslated: their replies come back only if the upstream routes the guest subnet to this host.
  conditions: {all: [{fact: 'entity', path: 'elementKind', operator: 'equal', value: 'return-route'}]},
  summary: 'Network {context.network} routes its guests without NAT, so the internet answers their own addresses: those replies reach this host only if the upstream router has a route for the guest subnet pointing at this host. That route lives outside the host; kvmdoctor cannot confirm it.',
  evidence: ['{name}', '{detail}', '{flows}'],
  fix: [],
  fixLines: () => [],
  note: [
    'on the upstream router, add a route for the guest subnet via this host\'s uplink address, then test from a guest (ping the internet) while watching the uplink: `tcpdump -ni UPLINK icmp`',
    'or switch the network to NAT (`<forward mode=\'nat\'/>`) if the guests need no inbound reachability',
  ],
}
