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

  it('rejects garbage with a ParseError', () => {
    expect(() => parseIpAddr('Object "addr" is unknown')).toThrow(ParseError)
    expect(() => parseIpAddr('{"ifname": "x"}')).toThrow(ParseError)
    expect(() => parseIpAddr('[{"mtu": 1500}]')).toThrow(/no ifname/)
  })
})
