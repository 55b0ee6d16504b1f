import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import rule from '../../rules/libvirt-network-inactive.js'
import type {Neighbour} from '../../probes/neighbours.js'
import {ALL_RULES} from '../../rules/index.js'
import {evaluate} from '../../src/core/engine.js'
import {alter, factsOf, fire, model, rerunApipa} from '../helpers.js'

describe('libvirt-network-inactive', () => {
  it('fires when a network guests use is down (lab: virsh net-destroy default)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('network-inactive'))
    expect(names).toEqual(['default'])
    // The running guest's tap is re-plugged: starting the network does not.
    expect(evaluation.findings[0].fix).toEqual(['virsh net-start default', expect.stringMatching(/^ip link set vnet\d+ master virbr0 up$/)])
    expect(evaluation.findings[0].evidence.join(' ')).toContain('kdlab-web01')
  })
  it('lists the DHCP/APIPA symptoms of its guests under it, not beside it', async () => {
    const facts = await rerunApipa(alter<Neighbour[]>(await factsOf('network-inactive'), 'neighbours', (n) => n.push({ip: '169.254.3.4', dev: 'vnet0', mac: '52:54:00:6b:64:01', state: ['STALE']})))
    const findings = (await evaluate(model(facts), ALL_RULES)).findings
    expect(findings[0].id).toBe('libvirt-network-inactive')
    const apipa = findings.find((f) => f.id === 'apipa-address')!
    expect(apipa.explainedBy).toBe('libvirt-network-inactive@network:default')
    expect(findings.filter((f) => !f.explainedBy && f.severity !== 'info').map((f) => f.id)).toEqual(['libvirt-network-inactive'])
  })
  it('stays silent on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it('stays silent for an inactive network nobody uses and nothing autostarts', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => {
      l.networks.push({...l.networks[0], name: 'spare', bridge: 'virbr9', active: false, autostart: false})
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('fires for an unused network that is marked autostart', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => {
      l.networks.push({...l.networks[0], name: 'spare', bridge: 'virbr9', active: false, autostart: true})
    })
    expect((await fire(rule, facts)).names).toEqual(['spare'])
  })
})
