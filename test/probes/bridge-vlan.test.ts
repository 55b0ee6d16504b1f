import {describe, expect, it} from 'vitest'
import {bridgeVlanProbe, parseBridgeVlan} from '../../probes/bridge-vlan.js'
import {ParseError} from '../../probes/types.js'
import {runProbes} from '../../src/core/probe-runner.js'
import {OPTIONS, oneCommandHost} from './one-command-host.js'
import {recordedOutput} from '../helpers.js'

const host = oneCommandHost
const options = OPTIONS

describe('bridge -j vlan show', () => {
  it("reads each port's VLANs, ranges, PVID and Egress Untagged, the bridge device under its own name (iproute2 >= 4.17: [{ifname, vlans}]; older: keyed by name)", () => {
    const now = '[{"ifname":"virbr0","vlans":[{"vlan":1,"flags":["PVID","Egress Untagged"]}]},{"ifname":"vnet0","vlans":[{"vlan":10,"flags":["PVID","Egress Untagged"]}]},{"ifname":"eth1","vlans":[{"vlan":1,"flags":["PVID","Egress Untagged"]},{"vlan":2,"vlanEnd":4094}]}]'
    expect(parseBridgeVlan(now)).toEqual({
      virbr0: [{from: 1, to: 1, pvid: true, untagged: true}],
      vnet0: [{from: 10, to: 10, pvid: true, untagged: true}],
      eth1: [{from: 1, to: 1, pvid: true, untagged: true}, {from: 2, to: 4094}],
    })
    expect(parseBridgeVlan('{"vnet0":[{"vlan":10,"flags":["PVID","Egress Untagged"]}],"virbr0":[{"vlan":1}]}')).toEqual({vnet0: [{from: 10, to: 10, pvid: true, untagged: true}], virbr0: [{from: 1, to: 1}]})
    // RHEL 7's iproute2 prints "EgressUntagged", no space (its output as a public test suite quotes it).
    expect(parseBridgeVlan('{"bridge3":[{"vlan":1,"flags":["PVID","EgressUntagged"]}],"vethb26eb609":[{"vlan":1,"flags":["PVID","EgressUntagged"]}]}')).toEqual({
      bridge3: [{from: 1, to: 1, pvid: true, untagged: true}],
      vethb26eb609: [{from: 1, to: 1, pvid: true, untagged: true}],
    })
    // A kernel without VLAN filtering lists nothing (recorded on this lab host).
    expect(parseBridgeVlan(recordedOutput('nwfilter-ip-stale', 'command-bridge--j-vlan-show.txt'))).toEqual({})
  })

  it('refuses what is not its listing', () => {
    expect(() => parseBridgeVlan('"x"')).toThrow(ParseError)
    expect(() => parseBridgeVlan('[{"vlans":[]}]')).toThrow(ParseError)
    expect(() => parseBridgeVlan('[{"ifname":"vnet0","vlans":[{"flags":["PVID"]}]}]')).toThrow(ParseError)
    expect(() => parseBridgeVlan('[{"ifname":"vnet0","vlans":{}}]')).toThrow(ParseError)
  })

  it('absent (a recording made before the probe) is "not read", never "no VLANs"; a failed read is unavailable', async () => {
    const notRecorded = await runProbes([bridgeVlanProbe], host({exitCode: null, error: 'bridge -j vlan show: not recorded in this snapshot', errorCode: 'not-recorded'}), options)
    expect(notRecorded['bridge-vlan']).toMatchObject({ok: true, data: {ports: {}, notRead: 'bridge -j vlan show: not recorded in this snapshot'}})
    const failed = await runProbes([bridgeVlanProbe], host({exitCode: 1, error: 'bridge: exit 1: RTNETLINK answers: Operation not permitted', errorCode: 'exit-status'}), options)
    expect(failed['bridge-vlan']).toMatchObject({ok: false, error: 'bridge: exit 1: RTNETLINK answers: Operation not permitted'})
  })
})
