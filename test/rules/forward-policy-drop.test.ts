import {describe, expect, it} from 'vitest'
import {type IptablesFacts, parseRule} from '../../probes/iptables.js'
import type {SysctlFacts} from '../../probes/sysctl.js'
import {rule} from '../../rules/forward-policy-drop.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('forward-policy-drop', () => {
  it('fires for bridged guests behind FORWARD DROP with bridge-nf-call-iptables=1 (lab)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('bridged-forward-drop'))
    expect(names).toEqual(['kdlab-br0'])
    expect(evaluation.findings[0].evidence).toContain('decided by: iptables -t filter: chain FORWARD policy DROP')
    expect(evaluation.findings[0].fix[0]).toBe('iptables -I DOCKER-USER -i kdlab-br0 -j ACCEPT   # without Docker: iptables -I FORWARD -i kdlab-br0 -j ACCEPT')
  })
  it("stays silent for NAT guests whose LIBVIRT_FWO accept comes first (lab: Docker's DROP policy)", async () => {
    expect((await fire(rule, await factsOf('docker-forward-drop-nat-ok'))).names).toEqual([])
  })
  it('fires for the NAT bridge once the LIBVIRT accepts are gone too', async () => {
    const facts = alter<IptablesFacts>(await factsOf('firewall-flushed'), 'iptables', (i) => (i.main.tables.filter.chains.FORWARD.policy = 'DROP'))
    expect((await fire(rule, facts)).names).toEqual(['virbr0'])
  })
  it('stays silent for bridged guests when bridge-nf-call-iptables is 0 (frames never meet iptables)', async () => {
    const facts = alter<SysctlFacts>(await factsOf('bridged-forward-drop'), 'sysctl', (s) => (s.values['net.bridge.bridge-nf-call-iptables'] = 0))
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('stays silent when a physdev-is-bridged ACCEPT comes first', async () => {
    const facts = alter<IptablesFacts>(await factsOf('bridged-forward-drop'), 'iptables', (i) => {
      i.main.tables.filter.chains.FORWARD.rules.unshift(parseRule('FORWARD', ['-m', 'physdev', '--physdev-is-bridged', '-j', 'ACCEPT'], '-A FORWARD -m physdev --physdev-is-bridged -j ACCEPT'))
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('stays silent on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
})
