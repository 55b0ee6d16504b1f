import {describe, expect, it} from 'vitest'
import rule from '../../rules/host-input-blocks-dhcp-dns.js'
import type {Listener} from '../../probes/listeners.js'
import type {NfRuleset} from '../../src/lib/netfilter.js'
import {type Facts, alter, factsOf, fire, model, unavailable} from '../helpers.js'

describe('host-input-blocks-dhcp-dns', () => {
  it('fires for an iptables INPUT rule dropping DHCP on the bridge (lab), with narrow accepts before it as the fix', async () => {
    const {evaluation} = await fire(rule, await factsOf('dhcp-input-drop'))
    expect(evaluation.findings).toHaveLength(1)
    // The admin's drop stays; the guests' DHCP and DNS are accepted before it.
    expect(evaluation.findings[0].fix).toEqual(['iptables -t filter -I INPUT 1 -i virbr0 -p udp -m multiport --dports 53,67 -j ACCEPT', 'iptables -t filter -I INPUT 1 -i virbr0 -p tcp --dport 53 -j ACCEPT'])
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

  // Lab nat-redirect-dns-unlistened: an admin's nat PREROUTING REDIRECT of the guests' DNS to 5353 (a local resolver
  // that does not run). The guest's DNS failed; kvmdoctor walked the REDIRECT, then looked for dnsmasq on port 53 and
  // printed OK.
  describe('a NAT rule that sends the guests\' DNS to a local port nothing listens on (lab: nat-redirect-dns-unlistened)', () => {
    const FIXTURE = 'nat-redirect-dns-unlistened'
    const dns = (facts: Facts) => {
      const m = model(facts)
      if (!m.datapath.ok) throw new Error(m.datapath.reason)
      return m.datapath.datapath.flows.find((f) => f.guest === 'kdlab-web01' && f.kind === 'dns')!
    }
    const withListener = (facts: Facts, l: Listener) => alter<Listener[]>(facts, 'listeners', (ls) => void ls.push(l))
    const redirectTo = (facts: Facts, port: string) =>
      alter<NfRuleset>(facts, 'netfilter', (rs) => {
        for (const t of rs.tables) for (const c of Object.values(t.chains)) for (const r of c.rules) for (const e of r.exprs) if (e.kind === 'nat' && e.type === 'redirect') e.port = Number(port)
      })

    it('fires on the REDIRECT, fails DNS at the port it sends the query to, and exempts the guests ahead of it', async () => {
      const facts = await factsOf(FIXTURE)
      const {names, evaluation} = await fire(rule, facts)
      expect(names).toEqual(['iptables -t nat -A PREROUTING -i virbr0 -p udp -m udp --dport 53 -j REDIRECT --to-ports 5353'])
      const f = evaluation.findings[0]
      expect(f.title).toBe("The host's NAT sends guests' DHCP/DNS where nothing listens: iptables -t nat -A PREROUTING -i virbr0 -p udp -m udp --dport 53 -j REDIRECT --to-ports 5353")
      expect(f.fix).toEqual(['iptables -t nat -I PREROUTING 1 -i virbr0 -p udp -m multiport --dports 53,67 -j ACCEPT', 'iptables -t nat -I PREROUTING 1 -i virbr0 -p tcp --dport 53 -j ACCEPT'])
      const flow = dns(facts)
      expect([flow.verdict, flow.decidedBy?.name, flow.decidedBy?.element?.kind, flow.decidedBy?.element?.chain]).toEqual(['fail', 'listener udp 5353', 'nf-rule', 'PREROUTING'])
    })
    it('stays silent, and passes DNS, when something listens on the port the rule sends it to', async () => {
      const facts = withListener(await factsOf(FIXTURE), {proto: 'udp', address: '0.0.0.0', port: 5353, process: 'unbound', pid: 4242})
      expect((await fire(rule, facts)).names).toEqual([])
      expect([dns(facts).verdict, dns(facts).hops.at(-1)?.detail]).toEqual(['pass', expect.stringContaining('unbound (pid 4242) on 0.0.0.0:5353')])
    })
    it("stays silent when the rule redirects to dnsmasq's own port", async () => {
      const facts = redirectTo(await factsOf(FIXTURE), '53')
      expect((await fire(rule, facts)).names).toEqual([])
      expect(dns(facts).verdict).toBe('pass')
    })
  })
})
