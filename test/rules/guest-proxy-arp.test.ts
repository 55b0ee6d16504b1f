import {describe, expect, it} from 'vitest'
import type {WireFacts} from '../../probes/wire.js'
import rule from '../../rules/guest-proxy-arp.js'
import {alter, factsOf, fire} from '../helpers.js'

const GUEST = 'kdlab-proxy01'

describe('guest-proxy-arp', () => {
  it("fires for a guest with proxy ARP answering a neighbour's requests for the network's gateway (lab, --listen)", async () => {
    const {names, evaluation} = await fire(rule, await factsOf('wire-proxy-arp'))
    expect(names).toEqual([expect.stringMatching(new RegExp(`^${GUEST}/vnet\\d+$`))])
    const f = evaluation.findings[0]
    expect(f.title).toMatch(new RegExp(`^Guest ${GUEST} answers ARP for (.*, )?192\\.168\\.122\\.1(, .*)?, not its own$`))
    expect(f.evidence[0]).toContain('192.168.122.1 (the host (virbr0))')
  })

  it('stays silent for a single address nobody else holds: a service address the guest carries (its VIP)', async () => {
    const facts = alter<WireFacts>(await factsOf('wire-proxy-arp'), 'wire', (w) => {
      w.interfaces.find((i) => i.domain === GUEST)!.arpAnsweredFor = [{ip: '192.168.122.250', replies: 3}]
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })

  it('stays silent for guests answering ARP for their own addresses (lab, --listen)', async () => {
    expect((await fire(rule, await factsOf('wire-gateway-unanswered'))).names).toEqual([])
    expect((await fire(rule, await factsOf('wire-dhcp-request-foreign'))).names).toEqual([])
    expect((await fire(rule, await factsOf('wire-dns-unanswered'))).names).toEqual([])
  })
})
