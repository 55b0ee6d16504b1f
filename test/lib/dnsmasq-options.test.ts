import {describe, expect, it} from 'vitest'
import {givenDhcpOptions} from '../../src/lib/dnsmasq-options.js'

const OWN = '192.168.122.1'

describe("givenDhcpOptions: what a network's <dnsmasq:options> give its DHCP clients", () => {
  it('options that set neither router nor DNS server leave both as libvirt gives them', () => {
    expect(givenDhcpOptions(undefined, OWN)).toEqual({})
    expect(givenDhcpOptions(['log-dhcp', 'dhcp-option=42,192.0.2.123', 'dhcp-option=option:ntp-server,192.0.2.123', 'cache-size=0'], OWN)).toEqual({})
  })
  it('an option with no value sends it empty: no router, no DNS server', () => {
    expect(givenDhcpOptions(['dhcp-option=3'], OWN)).toEqual({router: {addresses: [], option: 'dhcp-option=3'}})
    expect(givenDhcpOptions(['dhcp-option-force=option:dns-server'], OWN)).toEqual({dnsServer: {addresses: [], option: 'dhcp-option-force=option:dns-server'}})
  })
  it("by number or by name; 0.0.0.0 is the network's own address", () => {
    expect(givenDhcpOptions(['dhcp-option=option:router,0.0.0.0', 'dhcp-option=6,192.0.2.53,198.51.100.53'], OWN)).toEqual({
      router: {addresses: [OWN], option: 'dhcp-option=option:router,0.0.0.0'},
      dnsServer: {addresses: ['192.0.2.53', '198.51.100.53'], option: 'dhcp-option=6,192.0.2.53,198.51.100.53'},
    })
  })
  it('one given to some clients only (a tag, a vendor class), a value that is not an address, or two that differ: not known which a guest gets', () => {
    expect(givenDhcpOptions(['dhcp-option=tag:green,3,192.168.122.254'], OWN)).toEqual({router: {conditional: 'dhcp-option=tag:green,3,192.168.122.254'}})
    expect(givenDhcpOptions(['dhcp-option=vendor:MSFT,6,192.0.2.1'], OWN).dnsServer).toHaveProperty('conditional')
    expect(givenDhcpOptions(['dhcp-option=6,resolver.example'], OWN).dnsServer).toHaveProperty('conditional')
    expect(givenDhcpOptions(['dhcp-option=3,192.168.122.254', 'dhcp-option=3'], OWN)).toEqual({router: {conditional: 'dhcp-option=3,192.168.122.254; dhcp-option=3'}})
    // The same value twice is one answer.
    expect(givenDhcpOptions(['dhcp-option=3', 'dhcp-option=3'], OWN)).toEqual({router: {addresses: [], option: 'dhcp-option=3'}})
  })
  it('IPv6 options and other numbers that merely start alike are not the router or DNS server', () => {
    expect(givenDhcpOptions(['dhcp-option=option6:dns-server,[::]', 'dhcp-option=33,10.0.0.0,192.168.122.9', 'dhcp-option=30'], OWN)).toEqual({})
  })
})
