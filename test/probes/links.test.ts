import {describe, expect, it} from 'vitest'
import {parseIpAddr} from '../../probes/links.js'
import {ParseError} from '../../probes/types.js'
import {sample} from '../helpers.js'

describe('parseIpAddr (ip -j -d addr show)', () => {
  const links = parseIpAddr(sample('ip-j-d-addr-show.json'))
  const byName = Object.fromEntries(links.map((l) => [l.name, l]))

  it('classifies link kinds', () => {
    expect(byName.lo.kind).toBe('loopback')
    expect(byName.virbr0.kind).toBe('bridge')
    expect(byName.labrtrp.kind).toBe('veth')
    expect(byName.vnet6.kind).toBe('tap')
    expect(byName.eth0.kind).toBe('ether')
    expect(byName.ifb0.kind).toBe('ifb')
  })

  it('reads bridge STP settings and port state', () => {
    expect(byName.virbr0.bridge).toEqual({stpState: 1, forwardDelayCs: 200})
    expect(byName.labbr0.bridge).toEqual({stpState: 0, forwardDelayCs: 0})
    expect(byName.vnet6.master).toBe('virbr0')
    expect(byName.vnet6.portState).toBe('forwarding')
    expect(byName.virbr0.portState).toBeUndefined()
  })

  it('reads state, flags, MTU, MAC and addresses', () => {
    expect(byName.eth0).toMatchObject({up: true, lowerUp: true, noCarrier: false, mtu: 1400, mac: '02:fc:00:00:00:01', operstate: 'UP'})
    expect(byName.eth0.addresses).toContainEqual({family: 'inet', address: '192.0.2.2', prefix: 24, scope: 'global'})
    expect(byName.vnet6.operstate).toBe('UNKNOWN')
    expect(byName.ifb0.up).toBe(false)
    expect(byName.lo.mac).toBeUndefined()
  })

  it("reads a bridge's own br_netfilter switches (nf_call_iptables, as ip -d prints them)", () => {
    const bridge = (data: Record<string, number>) => JSON.stringify([{ifindex: 4, ifname: 'br0', flags: ['UP'], mtu: 1500, operstate: 'UP', linkinfo: {info_kind: 'bridge', info_data: {stp_state: 0, forward_delay: 1500, ...data}}, addr_info: []}])
    expect(parseIpAddr(bridge({nf_call_iptables: 1, nf_call_ip6tables: 0, nf_call_arptables: 0}))[0].bridge).toMatchObject({nfCallIptables: true})
    expect(parseIpAddr(bridge({nf_call_iptables: 0, nf_call_ip6tables: 0}))[0].bridge?.nfCallIptables).toBeUndefined()
  })

  it('reads the XDP programs a device runs (iproute2 6.1: generic mode, and the several-modes form)', () => {
    const row = (xdp: unknown) => JSON.stringify([{ifindex: 3, ifname: 'a0', flags: ['UP'], mtu: 1500, operstate: 'UP', xdp, addr_info: []}])
    const prog = {id: 190, name: 'xdp_drop', tag: 'b11459a0e11ca14c', jited: 1, load_time: 15146085639530, created_by_uid: 0}
    expect(parseIpAddr(row({mode: 2, prog, attached: [{mode: 2, prog}]}))[0].xdp).toEqual([{mode: 'generic', id: 190, name: 'xdp_drop'}])
    expect(parseIpAddr(row({mode: 4, attached: [{mode: 1, prog}, {mode: 2, prog: {...prog, id: 191}}]}))[0].xdp).toEqual([{mode: 'driver', id: 190, name: 'xdp_drop'}, {mode: 'generic', id: 191, name: 'xdp_drop'}])
    // A mode this reading does not know is still a program on the device: kept (dropping it would make the hop a pass).
    expect(parseIpAddr(row({mode: 9, prog}))[0].xdp).toEqual([{mode: 'mode 9', id: 190, name: 'xdp_drop'}])
    expect(byName.eth0.xdp).toBeUndefined()
  })

  it('rejects garbage with a ParseError', () => {
    expect(() => parseIpAddr('Object "addr" is unknown')).toThrow(ParseError)
    expect(() => parseIpAddr('{"ifname": "x"}')).toThrow(ParseError)
    expect(() => parseIpAddr('[{"mtu": 1500}]')).toThrow(/no ifname/)
  })
})
