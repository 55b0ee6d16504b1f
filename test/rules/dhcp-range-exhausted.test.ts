import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {LogFacts} from '../../probes/logs.js'
import rule from '../../rules/dhcp-range-exhausted.js'
import type {LeaseFacts} from '../../probes/leases.js'
import {type Facts, alter, factsOf, fire, fixtureDir, model} from '../helpers.js'

const TINY03 = '52:54:00:6b:64:23'

describe('dhcp-range-exhausted', () => {
  it('fires for a 2-address range with 2 unexpired leases (lab: 3 guests on kdlab-tiny)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('dhcp-range-exhausted'))
    expect(names).toEqual(['kdlab-tiny'])
    expect(evaluation.findings[0].evidence[0]).toBe('range 192.168.150.10-192.168.150.11: 2 addresses, 2 unexpired leases')
  })
  it('stays silent on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it('stays silent once the range is widened (leases outside the range do not count)', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('dhcp-range-exhausted'), 'libvirt', (l) => {
      l.networks.find((n) => n.name === 'kdlab-tiny')!.ips[0].dhcpRanges = [{start: '192.168.150.100', end: '192.168.150.200'}]
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('a host entry reserving an address for the guest left out gets it its answer: only its DHCP flow changes, the range is still full', async () => {
    // lab: dhcp-range-full-host-entry (tiny03 measured DHCP ok; kvmdoctor failed its DHCP at the full pool).
    const exhausted = await factsOf('dhcp-range-exhausted')
    const reserve = (ip: string) => alter<LibvirtFacts>(exhausted, 'libvirt', (l) => l.networks.find((n) => n.name === 'kdlab-tiny')!.ips[0].dhcpHosts.push({mac: TINY03, ip}))
    const dhcpOf = (facts: Facts) => {
      const m = model(facts)
      return (m.datapath.ok ? m.datapath.datapath.flows : []).find((f) => f.guest === 'kdlab-tiny03' && f.kind === 'dhcp')
    }
    expect(dhcpOf(exhausted)?.decidedBy).toMatchObject({name: 'DHCP pool', verdict: 'fail'})
    const reserved = reserve('192.168.150.50')
    expect(dhcpOf(reserved)?.verdict).toBe('pass')
    expect((await fire(rule, reserved)).names).toEqual(['kdlab-tiny'])
    // The reserved address leased to another MAC (before the entry): dnsmasq has nothing for it.
    const leases = (exhausted.results.leases as {data: LeaseFacts}).data.leases
    const taken = leases.find((x) => x.bridge === 'kdlab-tiny' && x.mac !== TINY03)!.ip
    expect(dhcpOf(reserve(taken))?.decidedBy).toMatchObject({name: 'DHCP pool', verdict: 'fail'})
  })
  it('judges expiry at the capture time: the same leases expired are no exhaustion', async () => {
    const facts = await factsOf('dhcp-range-exhausted')
    const later = {...facts, capturedAt: new Date(facts.capturedAt.getTime() + 48 * 3600_000)}
    const {leasesProbe} = await import('../../probes/leases.js')
    const {ReplayRunner} = await import('../../src/core/snapshot.js')
    const runner = await ReplayRunner.open(fixtureDir('dhcp-range-exhausted'))
    Object.defineProperty(runner, 'capturedAt', {value: later.capturedAt})
    const results = structuredClone(facts.results)
    results.leases = {id: 'leases', ok: true, data: await leasesProbe.collect({runner, options: {active: false, libvirtUri: ''}, get: async () => results.links as never}), durationMs: 0}
    expect((await fire(rule, {results, capturedAt: later.capturedAt})).names).toEqual([])
  })
})

describe('dhcp-range-exhausted evidence from the logs', () => {
  it("quotes dnsmasq's 'no address available' lines when the log has them", async () => {
    const facts = alter<LogFacts>(await factsOf('dhcp-range-exhausted'), 'logs', (l) => {
      l.notable.push({id: 'dhcp-no-address-available', source: 'journalctl', line: '2026-11-28T10:00:00+0000 dnsmasq-dhcp[812]: DHCPDISCOVER(kdlab-tiny) 52:54:00:6b:64:23 no address available'})
    })
    const {evaluation} = await fire(rule, facts)
    expect(evaluation.findings[0].evidence).toContain('log: journalctl: 2026-11-28T10:00:00+0000 dnsmasq-dhcp[812]: DHCPDISCOVER(kdlab-tiny) 52:54:00:6b:64:23 no address available')
    // without such lines, no empty "log:" evidence line
    expect((await fire(rule, await factsOf('dhcp-range-exhausted'))).evaluation.findings[0].evidence.some((e) => e.startsWith('log:'))).toBe(false)
  })
})
