import {describe, expect, it} from 'vitest'
import type {WireFacts} from '../../probes/wire.js'
import rule from '../../rules/ipv6-dad-failed.js'
import {alter, factsOf, fire} from '../helpers.js'

const WEB01_MAC = '52:54:00:6b:64:01'

/**
 * The wire-gateway-unanswered recording (two guests on the default network, heard with --listen) with one
 * fact changed: wronggw01 probes for fd42::50 (duplicate address detection) while web01's tap hears web01
 * advertise it. Real DAD captures (a prober and a holder in namespaces) are in test/derive/wire-requests.test.ts.
 */
async function duplicateOf(advertisedBy: string | undefined) {
  return alter<WireFacts>(await factsOf('wire-gateway-unanswered'), 'wire', (w) => {
    const prober = w.interfaces.find((i) => i.domain === 'kdlab-wronggw01')!
    prober.ipv6.dad.push({ip: 'fd42::50', at: 100})
    if (advertisedBy) w.interfaces.find((i) => i.domain === 'kdlab-web01')!.ipv6.advertised.push({ip: 'fd42::50', mac: advertisedBy, at: 100.1})
  })
}

describe('ipv6-dad-failed', () => {
  it('fires for the guest whose probe for an address meets another guest\'s advertisement of it, naming that guest; not for the holder', async () => {
    const {names, evaluation} = await fire(rule, await duplicateOf(WEB01_MAC))
    expect(names).toEqual([expect.stringMatching(/^kdlab-wronggw01\/vnet\d+$/)])
    const f = evaluation.findings[0]
    expect(f.title).toBe('Guest kdlab-wronggw01 cannot take IPv6 address fd42::50: another machine holds it')
    expect(f.evidence).toEqual([expect.stringMatching(new RegExp(`^duplicate address detection on vnet\\d+: fd42::50 \\(claimed by ${WEB01_MAC} \\(kdlab-web01\\)\\)$`))])
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
