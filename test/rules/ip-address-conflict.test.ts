import {describe, expect, it} from 'vitest'
import type {Neighbour} from '../../probes/neighbours.js'
import rule from '../../rules/ip-address-conflict.js'
import {alter, factsOf, fire, fireAll} from '../helpers.js'

describe('ip-address-conflict', () => {
  it("fires when a static guest takes web01's leased address (lab, with arp-scan)", async () => {
    const {names, evaluation} = await fire(rule, await factsOf('static-ip-collision'))
    expect(names).toHaveLength(1)
    const claims = evaluation.findings[0].evidence.join(' ')
    expect(claims).toContain('52:54:00:6b:64:01 (kdlab-web01)')
    expect(claims).toContain('52:54:00:6b:64:03 (kdlab-static01)')
    expect(evaluation.findings[0].fix[0]).toContain(`virsh net-update default add ip-dhcp-host '<host mac='\\''52:54:00:6b:64:01'\\'' ip='\\''${names[0]}'\\''/>'`)
  })
  it('fires from the wire: the second clone uses the first one\'s address, seen only on its tap (lab, --listen)', async () => {
    const {evaluation} = await fire(rule, await factsOf('wire-client-id-duplicate'))
    expect(evaluation.findings).toHaveLength(1)
    const claims = evaluation.findings[0].evidence.join(' ')
    expect(claims).toMatch(/52:54:00:6b:64:61 \(kdlab-clone01\) via [a-z, ]*wire/)
    expect(claims).toMatch(/52:54:00:6b:64:62 \(kdlab-clone02\) via [a-z, ]*wire/)
  })
  it('stays silent on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it('stays silent for two guests sharing one MAC (that is mac-duplicate, not an IP conflict)', async () => {
    expect((await fire(rule, await factsOf('mac-duplicate'))).names).toEqual([])
  })
  it('ignores a VRRP virtual MAC and failed neighbour entries', async () => {
    const facts = await factsOf('healthy')
    const lease = (facts.results.leases.ok ? (facts.results.leases.data as {leases: {ip: string}[]}).leases : [])[0]
    const altered = alter<Neighbour[]>(facts, 'neighbours', (n) => {
      n.push({ip: lease.ip, dev: 'virbr0', mac: '00:00:5e:00:01:07', state: ['REACHABLE']})
      n.push({ip: lease.ip, dev: 'virbr0', mac: '52:54:00:99:99:99', state: ['FAILED']})
    })
    expect((await fire(rule, altered)).names).toEqual([])
  })
  it("ignores the host's own permanent entry for a guest's address (no machine answered it: guest-flow-blocked names the entry); a reachable one by another MAC is a claim", async () => {
    const facts = await factsOf('healthy')
    const lease = (facts.results.leases.ok ? (facts.results.leases.data as {leases: {ip: string}[]}).leases : [])[0]
    const pinned = (state: string) => alter<Neighbour[]>(facts, 'neighbours', (ns) => {
      for (const n of ns) if (n.ip === lease.ip) Object.assign(n, {mac: '52:54:00:6b:64:ee', state: [state]})
    })
    expect((await fire(rule, pinned('PERMANENT'))).names).toEqual([])
    const {ids, evaluation} = await fireAll(pinned('PERMANENT'))
    expect(ids).toContain('guest-flow-blocked')
    expect(evaluation.findings.find((f) => f.id === 'guest-flow-blocked')?.fix).toEqual([`ip neigh del ${lease.ip} dev virbr0`])
    expect((await fire(rule, pinned('REACHABLE'))).names).toEqual([lease.ip])
  })
})
