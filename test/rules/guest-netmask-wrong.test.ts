import {describe, expect, it} from 'vitest'
import type {WireFacts} from '../../probes/wire.js'
import rule from '../../rules/guest-netmask-wrong.js'
import {alter, factsOf, fire} from '../helpers.js'

const GUEST = 'kdlab-netmask01'

describe('guest-netmask-wrong', () => {
  it('fires for a /16 guest on a /24 network that ARPs itself for an address of another /24 (lab, --listen)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('wire-netmask-wrong'))
    expect(names).toEqual([expect.stringMatching(new RegExp(`^${GUEST}/vnet\\d+$`))])
    const f = evaluation.findings[0]
    expect(f.title).toBe(`Guest ${GUEST}'s netmask does not fit its network 192.168.122.0/24: it ARPs itself for 192.168.7.7, beyond it (a prefix too short)`)
    expect(f.evidence).toContain('its network: 192.168.122.0/24')
  })

  it('fires for a prefix too long: a neighbour on its own subnet sent to the gateway\'s MAC', async () => {
    const facts = alter<WireFacts>(await factsOf('wire-gateway-unanswered'), 'wire', (w) => {
      const web = w.interfaces.find((i) => i.domain === 'kdlab-web01')!
      const gatewayMac = web.ipv4Destinations.find((d) => d.ip === '192.168.122.1')!.mac
      web.ipv4Destinations.push({ip: '192.168.122.241', mac: gatewayMac, frames: 2})
    })
    const {names, evaluation} = await fire(rule, facts)
    expect(names).toEqual([expect.stringMatching(/^kdlab-web01\//)])
    expect(evaluation.findings[0].title).toContain('it sends 192.168.122.241, on it, to the gateway (a prefix too long)')
  })

  it('stays silent for what the guest sends the gateway itself, and its neighbours sent to their own MACs (lab, --listen)', async () => {
    expect((await fire(rule, await factsOf('wire-gateway-unanswered'))).names).toEqual([])
    expect((await fire(rule, await factsOf('wire-dns-unanswered'))).names).toEqual([])
  })

  it('stays silent for requests from an address outside the network (guest-address-foreign\'s) and from 169.254/16', async () => {
    const facts = alter<WireFacts>(await factsOf('wire-netmask-wrong'), 'wire', (w) => {
      for (const a of w.interfaces.find((i) => i.domain === GUEST)!.arpAsked) a.from = ['169.254.7.8']
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
})
