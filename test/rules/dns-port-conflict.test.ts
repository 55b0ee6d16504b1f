import {describe, expect, it} from 'vitest'
import type {ProcessFacts} from '../../probes/processes.js'
import {rule} from '../../rules/dns-port-conflict.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('dns-port-conflict', () => {
  it('fires when another dnsmasq holds 0.0.0.0:53 and the network could not start (lab)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('dns-port-conflict'))
    expect(names).toEqual(['default'])
    expect(evaluation.findings[0].evidence[0]).toMatch(/dnsmasq \(pid \d+\) on udp 0\.0\.0\.0:53/)
  })
  it("stays silent for libvirt's own dnsmasq (healthy lab)", async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it('ignores systemd-resolved on 127.0.0.53 and listeners scoped to another interface', async () => {
    const facts = alter<ProcessFacts>(await factsOf('healthy'), 'processes', (p) => {
      p.listeners!.push({proto: 'udp', address: '127.0.0.53', iface: 'lo', port: 53, process: 'systemd-resolve', pid: 400})
      p.listeners!.push({proto: 'udp', address: '0.0.0.0', iface: 'lan0', port: 67, process: 'dnsmasq', pid: 401})
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('is not checked when ss was unavailable', async () => {
    const facts = alter<ProcessFacts>(await factsOf('dns-port-conflict'), 'processes', (p) => (p.listeners = null))
    const {names, evaluation} = await fire(rule, facts)
    expect(names).toEqual([])
    expect(evaluation.notChecked.map((n) => n.entity?.name)).toEqual(['default'])
  })
})
