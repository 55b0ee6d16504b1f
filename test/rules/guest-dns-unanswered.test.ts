import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {WireFacts} from '../../probes/wire.js'
import rule from '../../rules/guest-dns-unanswered.js'
import {alter, factsOf, fire} from '../helpers.js'

const GUEST = 'kdlab-wrongdns01'

describe('guest-dns-unanswered', () => {
  it('fires for a guest whose DNS server is a host running none: the ICMP error names why (lab, --listen)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('wire-dns-unanswered'))
    expect(names).toEqual([expect.stringMatching(new RegExp(`^${GUEST}/vnet\\d+$`))])
    const f = evaluation.findings[0]
    expect(f.title).toBe(`Guest ${GUEST} asks DNS server 203.0.113.10 and gets no answer`)
    expect(f.evidence[0]).toMatch(/^DNS from \S+ on vnet\d+: 203\.0\.113\.10 \(\d+ queries in [\d.]+ s, no answer: udp port 53 unreachable from 203\.0\.113\.10: no DNS server there\)$/)
    expect(f.evidence).toContain("its network's DNS server is 192.168.122.1")
  })

  it("stays silent when the server that does not answer is its network's own (the host's DNS service, not the guest's choice)", async () => {
    const facts = alter<LibvirtFacts>(await factsOf('wire-dns-unanswered'), 'libvirt', (l) => {
      l.networks.find((n) => n.name === 'default')!.ips.push({family: 'ipv4', address: '203.0.113.10', prefix: 32, dhcpRanges: [], dhcpHosts: []})
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })

  it('stays silent for a server that answered once, and for one query without an error', async () => {
    const answered = alter<WireFacts>(await factsOf('wire-dns-unanswered'), 'wire', (w) => {
      for (const q of w.interfaces.find((i) => i.domain === GUEST)!.dns) q.answers = 1
    })
    expect((await fire(rule, answered)).names).toEqual([])
    const once = alter<WireFacts>(await factsOf('wire-dns-unanswered'), 'wire', (w) => {
      for (const q of w.interfaces.find((i) => i.domain === GUEST)!.dns) Object.assign(q, {queries: 1, lastAt: q.firstAt, errors: []})
    })
    expect((await fire(rule, once)).names).toEqual([])
  })

  it('stays silent where the guests ask the network\'s server and it answers (lab, --listen)', async () => {
    expect((await fire(rule, await factsOf('wire-gateway-unanswered'))).names).toEqual([])
    expect((await fire(rule, await factsOf('wire-proxy-arp'))).names).toEqual([])
  })
})
