import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import {parseIpRoute} from '../../probes/routes.js'
import type {SysctlFacts} from '../../probes/sysctl.js'
import rule from '../../rules/ipv6-accept-ra-conflict.js'
import {type Facts, alter, factsOf, fire, unavailable, withProbeData} from '../helpers.js'

// `ip -6 -j route show table all` of a host whose eth0 learned its default route from a router advertisement.
const RA_ROUTES = JSON.stringify([
  {dst: '2001:db8:1::/64', dev: 'eth0', protocol: 'ra', metric: 100, flags: [], expires: 86390, pref: 'medium'},
  {dst: 'fe80::/64', dev: 'eth0', protocol: 'kernel', metric: 256, flags: [], pref: 'medium'},
  {dst: 'default', gateway: 'fe80::1', dev: 'eth0', protocol: 'ra', metric: 100, flags: [], expires: 1790, pref: 'medium'},
])

/** The healthy recording with IPv6 on its network, RA routes on eth0 and eth0's accept_ra set: the facts this host lacks. */
async function raHost(acceptRa: number, ipv6Network = true): Promise<Facts> {
  let facts = withProbeData(await factsOf('healthy'), 'routes6', parseIpRoute(RA_ROUTES, 'inet6'))
  facts = alter<SysctlFacts>(facts, 'sysctl', (s) => {
    s.values['net.ipv6.conf.eth0.accept_ra'] = acceptRa
    s.values['net.ipv6.conf.all.forwarding'] = 0
  })
  if (ipv6Network) facts = alter<LibvirtFacts>(facts, 'libvirt', (l) => l.networks[0].ips.push({family: 'ipv6', address: '2001:db8:ca2:2::1', prefix: 64, dhcpRanges: [], dhcpHosts: []}))
  return facts
}

describe('ipv6-accept-ra-conflict', () => {
  it('fires on the lab recording: a namespace router\'s RA default route on kdlab-ra0 (accept_ra 1), an IPv6 NAT network defined', async () => {
    const {evaluation} = await fire(rule, await factsOf('ra-routes-accept-ra'))
    expect(evaluation.findings.map((f) => f.entity.name)).toEqual(['kdlab-ra0'])
    expect(evaluation.findings[0].evidence).toContainEqual(expect.stringMatching(/^RA-learned routes: default via fe80::\S+ dev kdlab-ra0 proto ra$/))
    // Persisting it is a line written with printf, its value one quoted word (no echo of the name into a redirection).
    expect(evaluation.findings[0].note?.[0]).toBe("persist it: printf '%s\\n' 'net.ipv6.conf.kdlab-ra0.accept_ra = 2' > /etc/sysctl.d/60-accept-ra.conf (NetworkManager and systemd-networkd have an IPv6AcceptRA setting of their own)")
  })
  it('stays silent on the same recording with accept_ra 2 on kdlab-ra0 (the fix applied)', async () => {
    const fixed = alter<SysctlFacts>(await factsOf('ra-routes-accept-ra'), 'sysctl', (s) => (s.values['net.ipv6.conf.kdlab-ra0.accept_ra'] = 2))
    expect((await fire(rule, fixed)).names).toEqual([])
  })
  it('fires for an interface with RA routes and accept_ra 1 when a network routes IPv6, with the sysctl as the fix', async () => {
    const {evaluation} = await fire(rule, await raHost(1))
    expect(evaluation.findings.map((f) => f.entity.name)).toEqual(['eth0'])
    expect(evaluation.findings[0].fix).toEqual(['sysctl -w net.ipv6.conf.eth0.accept_ra=2'])
    expect(evaluation.findings[0].evidence).toContainEqual('RA-learned routes: 2001:db8:1::/64 dev eth0 proto ra, default via fe80::1 dev eth0 proto ra')
  })
  it('stays silent with accept_ra 2, and when no network routes IPv6', async () => {
    expect((await fire(rule, await raHost(2))).names).toEqual([])
    expect((await fire(rule, await raHost(1, false))).names).toEqual([])
  })
  it('is not checked when the IPv6 routes could not be read', async () => {
    const {evaluation} = await fire(rule, unavailable(await factsOf('healthy'), 'routes6', 'ip -6 -j route show table all: exit status 1'))
    expect(evaluation.findings).toEqual([])
    expect(evaluation.notChecked[0].reason).toMatch(/routes6 unavailable: ip -6/)
  })
})
