import {describe, expect, it} from 'vitest'
import rule from '../../rules/host-input-blocks-dhcp-dns.js'
import {factsOf, fire, unavailable} from '../helpers.js'

describe('host-input-blocks-dhcp-dns', () => {
  it('fires for an iptables INPUT rule dropping DHCP on the bridge (lab), with narrow accepts before it as the fix', async () => {
    const {evaluation} = await fire(rule, await factsOf('dhcp-input-drop'))
    expect(evaluation.findings).toHaveLength(1)
    // The admin's drop stays; the guests' DHCP and DNS are accepted before it.
    expect(evaluation.findings[0].fix).toEqual(['iptables -t filter -I INPUT -i virbr0 -p udp -m multiport --dports 53,67 -j ACCEPT', 'iptables -t filter -I INPUT -i virbr0 -p tcp --dport 53 -j ACCEPT'])
    expect(evaluation.findings[0].evidence).toContainEqual(expect.stringMatching(/kdlab-web01 dhcp:/))
  })
  it('fires for a native nft table dropping DNS before iptables accepts it (lab)', async () => {
    const {evaluation} = await fire(rule, await factsOf('nft-input-dns-drop'))
    expect(evaluation.findings.length).toBeGreaterThan(0)
    expect(evaluation.findings[0].entity.name).toMatch(/^nft inet /)
  })
  it("fires for ufw's chains run before libvirt's (lab) and for firewalld's public zone (lab)", async () => {
    expect((await fire(rule, await factsOf('ufw-style-dhcp-drop'))).evaluation.findings.length).toBeGreaterThan(0)
    expect((await fire(rule, await factsOf('firewalld-style-public-zone'))).evaluation.findings.length).toBeGreaterThan(0)
  })
  it('stays silent on the healthy host and with ufw or firewalld set up for libvirt (lab)', async () => {
    for (const name of ['healthy', 'ufw-style-healthy', 'firewalld-style-healthy']) expect((await fire(rule, await factsOf(name))).names, name).toEqual([])
  })
  it('is not checked when the packet filter could not be read', async () => {
    const {names, evaluation} = await fire(rule, unavailable(await factsOf('dhcp-input-drop'), 'netfilter'))
    expect(names).toEqual([])
    expect(evaluation.notChecked[0].reason).toMatch(/netfilter unavailable/)
  })
})
