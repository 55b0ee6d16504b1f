import {describe, expect, it} from 'vitest'
import type {Link} from '../../probes/links.js'
import type {SysctlFacts} from '../../probes/sysctl.js'
import rule from '../../rules/arp-flux.js'
import {alter, factsOf, fire} from '../helpers.js'

const twoInSameSubnet = async () =>
  alter<Link[]>(await factsOf('healthy'), 'links', (links) => {
    const eth0 = links.find((l) => l.name === 'eth0')!
    links.push({...structuredClone(eth0), name: 'eth1', index: 99, addresses: [{family: 'inet', address: '192.0.2.3', prefix: 24, scope: 'global'}]})
  })

describe('arp-flux', () => {
  it('fires on the lab recording: two interfaces in 10.254.1.0/24', async () => {
    const {evaluation} = await fire(rule, await factsOf('arp-flux'))
    expect(evaluation.findings[0].evidence[0]).toBe('same subnet on: kdlab-nh0 10.254.1.2/24 and kdlab-nh1 10.254.1.3/24')
  })
  it('fires for two interfaces in one subnet with arp_ignore=0 and arp_announce=0', async () => {
    const {evaluation} = await fire(rule, await twoInSameSubnet())
    expect(evaluation.findings[0].evidence[0]).toBe('same subnet on: eth0 192.0.2.2/24 and eth1 192.0.2.3/24')
    // On the pair alone (both settings take max(all, IF)): virbr0 and every other interface keep theirs.
    expect(evaluation.findings[0].fix[0]).toBe('sysctl -w net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2 net.ipv4.conf.eth1.arp_ignore=1 net.ipv4.conf.eth1.arp_announce=2')
  })
  it('stays silent when arp_ignore/arp_announce are set', async () => {
    const facts = alter<SysctlFacts>(await twoInSameSubnet(), 'sysctl', (s) => {
      s.values['net.ipv4.conf.all.arp_ignore'] = 1
      s.values['net.ipv4.conf.all.arp_announce'] = 2
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('stays silent for interfaces in different subnets (healthy lab)', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
})
