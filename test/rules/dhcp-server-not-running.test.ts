import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import rule from '../../rules/dhcp-server-not-running.js'
import {alter, factsOf, fire, unavailable} from '../helpers.js'

describe('dhcp-server-not-running', () => {
  it("fires when libvirt's dnsmasq is gone (lab: killed)", async () => {
    const {names, evaluation} = await fire(rule, await factsOf('dnsmasq-killed'))
    expect(names).toEqual(['default'])
    expect(evaluation.findings[0].evidence).toContain('no process with --conf-file=/var/lib/libvirt/dnsmasq/default.conf')
  })
  it('fires for an external ISC dhcpd that is configured but not running (lab: the LAN dhcpd stopped)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('dhcpd-stopped'))
    expect(names).toEqual(['isc-dhcp-server'])
    expect(evaluation.findings[0].evidence).toContain('no dhcpd process runs, yet /etc/dhcp/dhcpd.conf declares 10.77.0.0/24')
    expect(evaluation.findings[0].blastRadius).toBe(1)
  })
  it('stays silent while that dhcpd runs (lab: bridged-healthy)', async () => {
    expect((await fire(rule, await factsOf('bridged-healthy'))).names).toEqual([])
  })
  it('stays silent on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it('stays silent for a network without a DHCP range (static addressing)', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('dnsmasq-killed'), 'libvirt', (l) => l.networks.forEach((n) => n.ips.forEach((ip) => (ip.dhcpRanges = []))))
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('is not checked when the process list is unavailable', async () => {
    const {names, evaluation} = await fire(rule, unavailable(await factsOf('dnsmasq-killed'), 'processes'))
    expect(names).toEqual([])
    expect(evaluation.notChecked).toHaveLength(1)
  })
})
