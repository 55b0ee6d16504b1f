import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import rule from '../../rules/routed-network-no-return-route.js'
import type {NfRuleset} from '../../src/lib/netfilter.js'
import {alter, factsOf, fire} from '../helpers.js'

/** The lab's default network switched to another forward mode, and libvirt's MASQUERADE gone with NAT. */
const mode = (forwardMode: string) => async () =>
  alter<NfRuleset>(
    alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => (l.networks.find((n) => n.name === 'default')!.forwardMode = forwardMode)),
    'netfilter',
    (rs) => {
      for (const t of rs.tables) for (const c of Object.values(t.chains)) c.rules = c.rules.filter((r) => !r.exprs.some((e) => e.kind === 'nat'))
    },
  )

describe('routed-network-no-return-route', () => {
  it('fires for a routed network: its egress replies are undecided, not passed', async () => {
    const facts = await mode('route')()
    const {evaluation} = await fire(rule, facts)
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].evidence.join('\n')).toContain('192.168.122.0/24')
  })
  it('fires for an open network too', async () => {
    expect((await fire(rule, await mode('open')())).names).toHaveLength(1)
  })
  it('stays silent for a NAT network (the healthy lab host)', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
})
