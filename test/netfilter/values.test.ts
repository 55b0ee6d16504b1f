import {describe, expect, it} from 'vitest'
import {addressValue} from '../../probes/netfilter/values.js'

describe('addressValue', () => {
  it('reads IPv4 addresses and prefixes, the network of a prefix written from any of its addresses', () => {
    expect(addressValue('192.0.2.1')).toEqual({t: 'addr', v: '192.0.2.1'})
    expect(addressValue('192.0.2.1/32')).toEqual({t: 'addr', v: '192.0.2.1'})
    expect(addressValue('192.0.2.1/032')).toEqual({t: 'addr', v: '192.0.2.1'})
    expect(addressValue('10.1.2.3/8')).toEqual({t: 'prefix', v: '10.0.0.0/8'})
    expect(addressValue('255.255.255.255/31')).toEqual({t: 'prefix', v: '255.255.255.254/31'})
    expect(addressValue('200.1.2.3/1')).toEqual({t: 'prefix', v: '128.0.0.0/1'})
    expect(addressValue('10.1.2.3/0')).toEqual({t: 'prefix', v: '0.0.0.0/0'})
    expect(addressValue('10.1.2.3/255.255.0.0')).toEqual({t: 'prefix', v: '10.1.0.0/16'})
  })

  it('refuses what is no IPv4 address or prefix', () => {
    for (const text of ['10.0.0.1/33', '10.0.0.1/', '10.0.0.1/x', '10.0.0.1/8/8', '10.0.0.01', '10.0.0', '256.0.0.1', '10.0.0.1/255.0.255.0', '10.0.0.1/1e1', '']) {
      expect(addressValue(text), text).toBeUndefined()
    }
  })

  it('reads IPv6 as before', () => {
    expect(addressValue('fd00::1/64')).toEqual({t: 'prefix', v: 'fd00::/64'})
    expect(addressValue('FD00:0::1')).toEqual({t: 'addr', v: 'fd00::1'})
    expect(addressValue('fd00::1/129')).toBeUndefined()
  })
})
