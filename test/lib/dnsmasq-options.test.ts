import {describe, expect, it} from 'vitest'
import {dhcpRefusal, extraDhcpRanges, givenDhcpOptions} from '../../src/lib/dnsmasq-options.js'

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
  it('classless static routes (121, option:classless-static-route, 249): a client taking them ignores the router option, so the router is undecided', () => {
    expect(givenDhcpOptions(['dhcp-option=121,0.0.0.0/0,192.168.122.254'], OWN)).toEqual({router: {conditional: 'dhcp-option=121,0.0.0.0/0,192.168.122.254'}})
    expect(givenDhcpOptions(['dhcp-option=3,0.0.0.0', 'dhcp-option=option:classless-static-route,10.0.0.0/8,192.168.122.9'], OWN)).toEqual({router: {conditional: 'dhcp-option=3,0.0.0.0; dhcp-option=option:classless-static-route,10.0.0.0/8,192.168.122.9'}})
  })
  it('IPv6 options and other numbers that merely start alike are not the router or DNS server', () => {
    expect(givenDhcpOptions(['dhcp-option=option6:dns-server,[::]', 'dhcp-option=33,10.0.0.0,192.168.122.9', 'dhcp-option=30'], OWN)).toEqual({})
  })
})

describe("dhcpRefusal: options that keep a client from any DHCP answer", () => {
  const MAC = '52:54:00:6b:64:32'
  it('dhcp-ignore=tag:!known: a MAC without a host entry is refused; one with a <host> entry, or a dhcp-host option naming it, is not', () => {
    expect(dhcpRefusal(['dhcp-ignore=tag:!known'], MAC, [{mac: '52:54:00:6b:64:31'}], 'virbr9')).toEqual({verdict: 'fail', option: 'dhcp-ignore=tag:!known', effect: 'ignores clients without a host entry'})
    expect(dhcpRefusal(['dhcp-ignore=tag:!known'], MAC, [{mac: MAC.toUpperCase()}], 'virbr9')).toBeUndefined()
    expect(dhcpRefusal(['dhcp-host=52:54:00:6b:64:32,192.168.152.40', 'dhcp-ignore=tag:!known'], MAC, [], 'virbr9')).toBeUndefined()
    // A host entry by name only: whether this guest sends that name is not seen.
    expect(dhcpRefusal(['dhcp-ignore=tag:!known'], MAC, [{}], 'virbr9')?.verdict).toBe('indeterminate')
  })
  it('dhcp-host with ignore: its MAC (patterns too) is refused, other MACs are not; one matched by name is undecided', () => {
    expect(dhcpRefusal(['dhcp-host=52:54:00:6b:64:32,ignore'], MAC, [], 'virbr9')?.verdict).toBe('fail')
    expect(dhcpRefusal(['dhcp-host=52:54:00:6b:*:*,ignore'], MAC, [], 'virbr9')?.verdict).toBe('fail')
    expect(dhcpRefusal(['dhcp-host=01-52:54:00:6b:64:32,ignore'], MAC, [], 'virbr9')?.verdict).toBe('fail')
    expect(dhcpRefusal(['dhcp-host=52:54:00:6b:64:33,ignore'], MAC, [], 'virbr9')).toBeUndefined()
    expect(dhcpRefusal(['dhcp-host=printer,ignore'], MAC, [], 'virbr9')?.verdict).toBe('indeterminate')
  })
  it('no-dhcp-interface naming the bridge refuses everyone; another bridge, or options about something else, refuse no one', () => {
    expect(dhcpRefusal(['no-dhcp-interface=virbr9'], MAC, [], 'virbr9')).toEqual({verdict: 'fail', option: 'no-dhcp-interface=virbr9', effect: 'no DHCP on virbr9'})
    expect(dhcpRefusal(['no-dhcp-interface=virbr8', 'dhcp-option=3', 'log-dhcp'], MAC, [], 'virbr9')).toBeUndefined()
  })
  it('dhcp-ignore on other tags: undecided', () => {
    expect(dhcpRefusal(['dhcp-ignore=tag:printers'], MAC, [], 'virbr9')).toEqual({verdict: 'indeterminate', option: 'dhcp-ignore=tag:printers', effect: 'ignores clients by tags'})
  })
})

describe('extraDhcpRanges: IPv4 ranges dhcp-range options add', () => {
  it('start and end after any tag; IPv6, static and malformed ones add nothing', () => {
    expect(extraDhcpRanges(['dhcp-range=192.168.122.100,192.168.122.150,12h', 'dhcp-range=set:red,192.168.122.200,192.168.122.210', 'dhcp-range=::100,::1ff,constructor:virbr0', 'dhcp-range=192.168.122.0,static', 'dhcp-option=3'])).toEqual([
      {start: '192.168.122.100', end: '192.168.122.150'},
      {start: '192.168.122.200', end: '192.168.122.210'},
    ])
  })
})
