import {describe, expect, it} from 'vitest'
import type {WireFacts} from '../../probes/wire.js'
import rule from '../../rules/ipv6-dad-failed.js'
import {alter, factsOf, fire} from '../helpers.js'
import {WEB01_MAC, ipv6Probe} from './cases.js'

/** The wire-gateway-unanswered recording with wronggw01 probing for fd42::50 (see ipv6Probe). */
const duplicateOf = async (advertisedBy: string | undefined) => ipv6Probe(await factsOf('wire-gateway-unanswered'), advertisedBy)

describe('ipv6-dad-failed', () => {
  it('fires for the guest whose probe for an address meets another guest\'s advertisement of it, naming that guest; not for the holder', async () => {
    const {names, evaluation} = await fire(rule, await duplicateOf(WEB01_MAC))
    expect(names).toEqual([expect.stringMatching(/^kdlab-wronggw01\/vnet\d+$/)])
    const f = evaluation.findings[0]
    expect(f.title).toBe('Guest kdlab-wronggw01 cannot take IPv6 address fd42::50: another machine holds it')
    expect(f.evidence).toEqual([expect.stringMatching(new RegExp(`^duplicate address detection on vnet\\d+: fd42::50 \\(claimed by ${WEB01_MAC} \\(kdlab-web01\\)\\)$`))])
  })

  it('fires on the lab recording: dad02 booted after dad01 with its address (its kernel says dadfailed); dad01, the holder, is silent', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('wire-ipv6-dad-failed'))
    expect(names).toEqual([expect.stringMatching(/^kdlab-dad02\/vnet\d+$/)])
    expect(evaluation.findings[0].evidence).toEqual([expect.stringMatching(/: 2001:db8:ca2:7::10 \(claimed by 52:54:00:6b:64:81 \(kdlab-dad01\)\)$/)])
  })

  it("stays silent when no other MAC's advertisement of the address is heard: the address is the guest's", async () => {
    expect((await fire(rule, await duplicateOf(undefined))).names).toEqual([])
    // Its own advertisement (after its probe passed) claims nothing against it.
    const own = await duplicateOf(undefined)
    const facts = alter<WireFacts>(own, 'wire', (w) => {
      const prober = w.interfaces.find((i) => i.domain === 'kdlab-wronggw01')!
      prober.ipv6.advertised.push({ip: 'fd42::50', mac: prober.mac, at: 101})
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })

  it('stays silent on the recordings where no guest probes for an address another holds (lab, --listen)', async () => {
    for (const name of ['wire-gateway-unanswered', 'wire-proxy-arp', 'wire-dhcp-request-foreign']) expect((await fire(rule, await factsOf(name))).names, name).toEqual([])
  })
})
