import {describe, expect, it} from 'vitest'
import type {LeaseFacts} from '../../probes/leases.js'
import type {WireFacts} from '../../probes/wire.js'
import rule from '../../rules/guest-gateway-unanswered.js'
import {alter, factsOf, fire} from '../helpers.js'

const GUEST = 'kdlab-wronggw01'

describe('guest-gateway-unanswered', () => {
  it('fires for a static guest whose gateway nobody holds, naming it and the network\'s own (lab, --listen)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('wire-gateway-unanswered'))
    expect(names).toEqual([expect.stringMatching(new RegExp(`^${GUEST}/vnet\\d+$`))])
    const f = evaluation.findings[0]
    expect(f.title).toBe(`Guest ${GUEST} asks for its gateway 192.168.122.254 and nobody answers`)
    expect(f.evidence).toContain("its network's gateway is 192.168.122.1")
    expect(f.evidence[0]).toMatch(/^asked on vnet\d+: 192\.168\.122\.254 \(\d+ requests in [\d.]+ s, no answer; nobody on its segment holds it\)$/)
  })

  it('stays silent where somebody holds the address (a peer that is down is not a wrong gateway)', async () => {
    const facts = alter<LeaseFacts>(await factsOf('wire-gateway-unanswered'), 'leases', (l) => {
      l.leases.push({source: 'libvirt', file: '/var/lib/libvirt/dnsmasq/virbr0.status', bridge: 'virbr0', ip: '192.168.122.254', mac: '52:54:00:12:34:56', expiry: null, expired: false})
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })

  it('stays silent when the guest does reach beyond its subnet: what it asks for is not its gateway', async () => {
    const facts = alter<WireFacts>(await factsOf('wire-gateway-unanswered'), 'wire', (w) => {
      w.interfaces.find((i) => i.domain === GUEST)!.ipv4Destinations.push({ip: '203.0.113.10', mac: '52:54:00:2c:29:d0', frames: 3})
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })

  it('stays silent for an address that answered, or was asked for once', async () => {
    const answered = alter<WireFacts>(await factsOf('wire-gateway-unanswered'), 'wire', (w) => {
      for (const a of w.interfaces.find((i) => i.domain === GUEST)!.arpAsked) a.answeredBy = ['52:54:00:12:34:56']
    })
    expect((await fire(rule, answered)).names).toEqual([])
    const once = alter<WireFacts>(await factsOf('wire-gateway-unanswered'), 'wire', (w) => {
      for (const a of w.interfaces.find((i) => i.domain === GUEST)!.arpAsked) Object.assign(a, {asks: 1, lastAt: a.firstAt})
    })
    expect((await fire(rule, once)).names).toEqual([])
  })

  it('stays silent where every guest reaches its gateway: a netmask too short asks beyond its subnet, not for a gateway (lab, --listen)', async () => {
    expect((await fire(rule, await factsOf('wire-netmask-wrong'))).names).toEqual([])
    expect((await fire(rule, await factsOf('wire-dns-unanswered'))).names).toEqual([])
  })
})
