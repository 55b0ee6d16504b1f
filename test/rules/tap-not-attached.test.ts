import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {Link} from '../../probes/links.js'
import rule from '../../rules/tap-not-attached.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('tap-not-attached', () => {
  it('fires for a running guest whose tap lost its bridge (lab: network restarted under it)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('network-inactive'))
    // tap names are the lab run's own (vnetN)
    expect(names).toHaveLength(1)
    expect(names[0]).toMatch(/^kdlab-web01\/vnet\d+$/)
    const tap = names[0].split('/')[1]
    expect(evaluation.findings[0].fix[0]).toBe(`ip link set ${tap} master virbr0 up`)
  })
  it('fires when the tap hangs off another bridge', async () => {
    const facts = alter<Link[]>(await factsOf('healthy'), 'links', (links) => {
      links.find((l) => l.kind === 'tap')!.master = 'docker0'
      links.push({...links.find((l) => l.name === 'virbr0')!, name: 'docker0', index: 999})
    })
    expect((await fire(rule, facts)).names).toEqual([expect.stringMatching(/^kdlab-web01\/vnet\d+$/)])
  })
  it('stays silent on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it('stays silent for shut-off guests (they have no tap)', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('network-inactive'), 'libvirt', (l) => l.domains.forEach((d) => (d.state = 'shut off')))
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('stays silent when the link table is from another namespace (bridge of an active network not visible)', async () => {
    expect((await fire(rule, await factsOf('default-route-missing'))).names).toEqual([])
  })
})
