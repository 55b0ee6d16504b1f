import {describe, expect, it} from 'vitest'
import type {WireFacts} from '../../probes/wire.js'
import {rule} from '../../rules/ipv6-dad-failed.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('ipv6-dad-failed', () => {
  it('fires for the second guest configured with one IPv6 address, naming the first; not for the first (lab, --listen)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('wire-ipv6-dad-failed'))
    expect(names).toEqual([expect.stringMatching(/^kdlab-v6dup02\/vnet\d+$/)])
    const f = evaluation.findings[0]
    expect(f.title).toBe('Guest kdlab-v6dup02 cannot take IPv6 address fd42::50: another machine holds it')
    expect(f.evidence).toEqual([expect.stringMatching(/^duplicate address detection on vnet\d+: fd42::50 \(claimed by 52:54:00:6b:64:75 \(kdlab-v6dup01\)\)$/)])
  })

  it("stays silent when no other MAC's advertisement of the address is heard: the address is the guest's", async () => {
    const facts = alter<WireFacts>(await factsOf('wire-ipv6-dad-failed'), 'wire', (w) => {
      for (const i of w.interfaces) i.ipv6.advertised = i.ipv6.advertised.filter((a) => a.mac !== '52:54:00:6b:64:75')
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })

  it('stays silent where no guest probes for an address another holds (lab, --listen)', async () => {
    expect((await fire(rule, await factsOf('wire-proxy-arp'))).names).toEqual([])
    expect((await fire(rule, await factsOf('wire-no-address'))).names).toEqual([])
  })
})
