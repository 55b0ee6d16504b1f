/**
 * The bridged-healthy recording with its LAN guest (kdlab-lan02, tap vnet2, uplink kdlab-lanp) moved onto
 * an Open vSwitch bridge of the same name, whose state is the real OVS output of test/data/ovs (br-ovs2's
 * listings and flows, with vnet70 as the guest's port, tag 10, and eth-up as the uplink, trunks 10,30).
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {Link} from '../../probes/links.js'
import {type OvsFacts, parseFlows, parseOvsTables} from '../../probes/ovs.js'
import {type Facts, ROOT, alter, factsOf, withProbeData} from '../helpers.js'

const data = (f: string) => readFileSync(join(ROOT, 'test/data/ovs', f), 'utf8').replaceAll('br-ovs2', 'kdlab-br0').replaceAll('vnet70', 'vnet2').replaceAll('eth-up', 'kdlab-lanp')

export function recordedOvs(): OvsFacts {
  const bridges = parseOvsTables({bridge: data('bridge.json'), port: data('port.json'), iface: data('interface.json'), controller: data('controller.json')})
  const br = bridges.find((b) => b.name === 'kdlab-br0')!
  // The recorded flows: a drop for port 2 (vnet71) to 10/8, NORMAL for the rest.
  br.flows = parseFlows(data('flows-br-ovs2.txt'))
  // A running guest's tap has its link up.
  br.ports.find((p) => p.name === 'vnet2')!.interfaces[0].linkState = 'up'
  const sec = bridges.find((b) => b.name === 'br-sec')!
  sec.flows = parseFlows(data('flows-br-sec.txt'))
  return {installed: true, running: true, bridges}
}

/** The OVS host, with the OVS facts changed by `change`. */
export async function ovsHost(change: (ovs: OvsFacts) => void = () => {}): Promise<Facts> {
  let facts = alter<LibvirtFacts>(await factsOf('bridged-healthy'), 'libvirt', (l) => {
    const i = l.domains.find((d) => d.name === 'kdlab-lan02')!.interfaces[0]
    i.virtualport = {type: 'openvswitch', interfaceId: '5a1f0c2e-8d8e-4b3f-9a3c-0e8b1b2c3d4e'}
  })
  // OVS's kernel datapath: its ports are enslaved to ovs-system, the bridge is an openvswitch device.
  facts = alter<Link[]>(facts, 'links', (links) => {
    for (const l of links) if (l.master === 'kdlab-br0') l.master = 'ovs-system'
    const br = links.find((l) => l.name === 'kdlab-br0')!
    br.kind = 'openvswitch'
    delete br.bridge
  })
  const ovs = recordedOvs()
  change(ovs)
  return withProbeData(facts, 'ovs', ovs)
}

export const guestPort = (ovs: OvsFacts) => ovs.bridges.find((b) => b.name === 'kdlab-br0')!.ports.find((p) => p.name === 'vnet2')!
