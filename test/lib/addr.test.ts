import ipaddr from 'ipaddr.js'
import {describe, expect, it} from 'vitest'
import {formatIp, ipv4Bounds, parseIp, parsePrefix} from '../../src/lib/addr.js'

describe('parseIp', () => {
  it('reads four-part decimal IPv4 as a 32-bit value', () => {
    expect(parseIp('192.0.2.1')).toEqual({family: 4, value: 0xc0000201n})
    expect(parseIp('0.0.0.0')).toEqual({family: 4, value: 0n})
    expect(parseIp('255.255.255.255')).toEqual({family: 4, value: 0xffffffffn})
  })

  it('refuses what is not a four-part decimal address', () => {
    for (const text of ['10.1', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.1000', '010.1.1.1', '0x1.2.3.4', '1.2.3.4/24', ' 1.2.3.4', '1.2.3.4 ', '1..2.3', '1.2.3.4%eth0', '', 'unknown']) {
      expect(parseIp(text), text).toBeUndefined()
    }
  })

  it('agrees with ipaddr.js on every IPv4 text it is given', () => {
    const texts = ['0.0.0.0', '00.0.0.0', '1.2.3.04', '255.255.255.256', '4294967295']
    for (let i = 0; i < 2000; i++) texts.push(Array.from({length: 4}, () => Math.floor(Math.random() * 300)).join('.'))
    for (const text of texts) {
      const valid = ipaddr.IPv4.isValidFourPartDecimal(text)
      expect(parseIp(text) !== undefined, text).toBe(valid)
      if (valid) expect(parseIp(text)!.value).toBe(BigInt(ipaddr.IPv4.parse(text).toByteArray().reduce((n, b) => n * 256 + b, 0)))
    }
  })

  it('reads IPv6, with or without a zone, and keeps mapped IPv4 as IPv6', () => {
    expect(parseIp('fe80::1%virbr0')).toEqual({family: 6, value: (0xfe80n << 112n) | 1n})
    expect(parseIp('::ffff:192.0.2.1')?.family).toBe(6)
    expect(parseIp('fe80::g')).toBeUndefined()
  })
})

describe('formatIp', () => {
  it('prints what it parses, in both families', () => {
    for (const text of ['0.0.0.0', '10.0.0.1', '192.0.2.255', '255.255.255.255', '2001:db8::1', '::']) {
      const ip = parseIp(text)!
      expect(formatIp(ip.family, ip.value)).toBe(text)
    }
  })

  it('prints a prefix bound as ipaddr.js would', () => {
    const range = parsePrefix('198.51.100.77/26')!
    expect(formatIp(4, range.lo)).toBe('198.51.100.64')
    expect(formatIp(4, range.hi)).toBe('198.51.100.127')
  })
})

describe('ipv4Bounds', () => {
  it('gives parsePrefix bounds as numbers for plain IPv4 addresses and prefixes', () => {
    expect(ipv4Bounds('10.0.0.0/8')).toEqual([0x0a000000, 0x0b000000])
    expect(ipv4Bounds('198.51.100.77/26')).toEqual([0xc6336440, 0xc6336480])
    expect(ipv4Bounds('0.0.0.0/0')).toEqual([0, 2 ** 32])
    expect(ipv4Bounds('255.255.255.255')).toEqual([2 ** 32 - 1, 2 ** 32])
    for (let i = 0; i < 2000; i++) {
      const text = `${Array.from({length: 4}, () => Math.floor(Math.random() * 256)).join('.')}/${Math.floor(Math.random() * 33)}`
      const range = parsePrefix(text)!
      expect(ipv4Bounds(text), text).toEqual([Number(range.lo), Number(range.hi) + 1])
    }
  })

  it('leaves every other text to parsePrefix', () => {
    for (const text of ['fe80::/10', '10.0.0.1-10.0.0.9', '10.0.0.0/33', '10.0.0.0/024', '10.0.0.0/8/1', '010.0.0.0/8', '10.0.0/8', '']) expect(ipv4Bounds(text), text).toBeUndefined()
  })
})
