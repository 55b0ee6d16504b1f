import {describe, expect, it} from 'vitest'
import type {Listener} from '../../probes/listeners.js'
import rule from '../../rules/dns-port-conflict.js'
import {alter, factsOf, fire, unavailable} from '../helpers.js'

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
    const facts = alter<Listener[]>(await factsOf('healthy'), 'listeners', (listeners) => {
      listeners.push({proto: 'udp', address: '127.0.0.53', iface: 'lo', port: 53, process: 'systemd-resolve', pid: 400})
      listeners.push({proto: 'udp', address: '0.0.0.0', iface: 'lan0', port: 67, process: 'dnsmasq', pid: 401})
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
  // Regression (#16): the ss error used to be dropped, leaving "the facts it needs were not collected".
  it('is not checked when ss failed, and says why with the error ss gave', async () => {
    const facts = unavailable(await factsOf('dns-port-conflict'), 'listeners', 'ss -H -lunpt: exit status 1: Cannot open netlink socket: Permission denied')
    const {names, evaluation} = await fire(rule, facts)
    expect(names).toEqual([])
    expect(evaluation.notChecked).toHaveLength(1)
    expect(evaluation.notChecked[0].reason).toMatch(/listeners unavailable: ss -H -lunpt: exit status 1: Cannot open netlink socket/)
  })
})
