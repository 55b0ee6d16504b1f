import {describe, expect, it} from 'vitest'
import type {WireFacts} from '../../probes/wire.js'
import rule from '../../rules/dhcp-request-foreign.js'
import {alter, factsOf, fire} from '../helpers.js'

const GUEST = 'kdlab-moved01'

describe('dhcp-request-foreign', () => {
  it('fires for a guest asking to keep a lease of another network, NAKed by the network\'s server (lab, --listen)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('wire-dhcp-request-foreign'))
    expect(names).toEqual([expect.stringMatching(new RegExp(`^${GUEST}/vnet\\d+$`))])
    const f = evaluation.findings[0]
    expect(f.title).toBe(`Guest ${GUEST} asks DHCP to keep 10.88.0.50, an address of another network`)
    expect(f.evidence[0]).toMatch(/^on vnet\d+: 10\.88\.0\.50 \(init-reboot\): NAK from 192\.168\.122\.1 \(52:54:00:[0-9a-f:]+\): "wrong address"/)
  })

  it('fires on silence too: the request sent again and again, no answer', async () => {
    const facts = alter<WireFacts>(await factsOf('wire-dhcp-request-foreign'), 'wire', (w) => {
      for (const r of w.interfaces.find((i) => i.domain === GUEST)!.dhcp.requestsSeen) {
        if (r.address !== '10.88.0.50') continue
        delete r.answer
        Object.assign(r, {sent: 3, lastAt: r.firstAt + 4})
      }
    })
    expect((await fire(rule, facts)).evaluation.findings[0].evidence[0]).toMatch(/10\.88\.0\.50 \(init-reboot\): no answer to 3 requests in 4 s/)
  })

  it('stays silent for a foreign request that was ACKed (the server serves it: a relay), or sent once without an answer', async () => {
    const acked = alter<WireFacts>(await factsOf('wire-dhcp-request-foreign'), 'wire', (w) => {
      for (const r of w.interfaces.find((i) => i.domain === GUEST)!.dhcp.requestsSeen) if (r.answer) r.answer.message = 'ack'
    })
    expect((await fire(rule, acked)).names).toEqual([])
    const once = alter<WireFacts>(await factsOf('wire-dhcp-request-foreign'), 'wire', (w) => {
      for (const r of w.interfaces.find((i) => i.domain === GUEST)!.dhcp.requestsSeen) {
        delete r.answer
        Object.assign(r, {sent: 1, lastAt: r.firstAt})
      }
    })
    expect((await fire(rule, once)).names).toEqual([])
  })

  it("stays silent for renewals of the network's own addresses, and for requests taking a rogue server's offer (lab, --listen)", async () => {
    expect((await fire(rule, await factsOf('wire-gateway-unanswered'))).names).toEqual([])
    expect((await fire(rule, await factsOf('wire-rogue-dhcp'))).names).toEqual([])
  })
})
