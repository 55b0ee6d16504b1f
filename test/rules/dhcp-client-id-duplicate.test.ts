import {describe, expect, it} from 'vitest'
import type {LeaseFacts} from '../../probes/leases.js'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import rule from '../../rules/dhcp-client-id-duplicate.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('dhcp-client-id-duplicate', () => {
  it('fires for two clones sending one client id from two MACs (lab, --listen)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('wire-client-id-duplicate'))
    expect(names.map((n) => n.split('/')[0]).sort()).toEqual(['kdlab-clone01', 'kdlab-clone02'])
    expect(evaluation.findings[0].evidence.join(' ')).toContain('ff:00:00:00:01:00:01:00:01:2a:2b:2c:2d:52:54:00:6b:64:99')
  })
  it('fires from the lease files alone (no --listen): a second MAC holding a lease with the same client id', async () => {
    const facts = alter<LeaseFacts>(await factsOf('mac-duplicate'), 'leases', (l) => {
      const web = l.leases.find((x) => x.mac === '52:54:00:6b:64:01' && !x.expired)!
      l.leases.push({...web, ip: '192.168.122.250', mac: '52:54:00:6b:64:03'})
    })
    const {names, evaluation} = await fire(rule, facts)
    expect(names.length).toBeGreaterThan(0)
    expect(evaluation.findings[0].evidence.join(' ')).toContain('52:54:00:6b:64:03 via lease')
  })
  it('stays silent when the MACs sharing the id hold leases on two networks: two servers, no conflict (a template cloned to two networks)', async () => {
    const facts = alter<LeaseFacts>(await factsOf('mac-duplicate'), 'leases', (l) => {
      const web = l.leases.find((x) => x.mac === '52:54:00:6b:64:01' && !x.expired)!
      l.leases.push({...web, bridge: 'virbr1', file: '/var/lib/libvirt/dnsmasq/virbr1.status', ip: '192.168.100.50', mac: '52:54:00:6b:64:03'})
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('stays silent for clones heard on the wire on two networks', async () => {
    let moved = ''
    const onTwoNetworks = alter<LibvirtFacts>(await factsOf('wire-client-id-duplicate'), 'libvirt', (l) => {
      const clone = l.domains.find((d) => d.name === 'kdlab-clone02')!
      moved = clone.interfaces[0].mac!
      l.networks.push({...l.networks.find((n) => n.name === clone.interfaces[0].source)!, name: 'other', bridge: 'virbr9'})
      clone.interfaces[0] = {...clone.interfaces[0], source: 'other', bridge: 'virbr9'}
    })
    // Its leases (if the recording holds any) move with it: they would be on the other network's bridge.
    const facts = alter<LeaseFacts>(onTwoNetworks, 'leases', (l) => l.leases.filter((x) => x.mac === moved).forEach((x) => (x.bridge = 'virbr9')))
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('stays silent for two guests with one MAC (that is mac-duplicate) and on the healthy host', async () => {
    expect((await fire(rule, await factsOf('mac-duplicate'))).names).toEqual([])
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
})
