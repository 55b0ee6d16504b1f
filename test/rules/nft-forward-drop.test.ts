import {describe, expect, it} from 'vitest'
import rule from '../../rules/nft-forward-drop.js'
import type {NetfilterFacts} from '../../probes/netfilter.js'
import {parseNftJsonIR} from '../../probes/netfilter/nft-json.js'
import {alter, factsOf, fire} from '../helpers.js'

/** The recording's policy-drop chain (inet kdlab_fw forward) given these rules, as nft -j lists them (handles from 2). */
async function kdlabFwWith(...exprs: unknown[][]) {
  const rules = exprs.map((expr, i) => ({rule: {family: 'inet', table: 'kdlab_fw', chain: 'forward', handle: i + 2, expr}}))
  const json = JSON.stringify({nftables: [{table: {family: 'inet', name: 'kdlab_fw', handle: 377}}, {chain: {family: 'inet', table: 'kdlab_fw', name: 'forward', handle: 1, type: 'filter', hook: 'forward', prio: 10, policy: 'drop'}}, ...rules]})
  const chain = parseNftJsonIR(json).tables[0].chains.forward
  return alter<NetfilterFacts>(await factsOf('nft-forward-drop'), 'netfilter', (nf) => {
    nf.tables.find((t) => t.backend === 'nft' && t.name === 'kdlab_fw')!.chains.forward.rules = chain.rules
  })
}
const match = (left: unknown, right: unknown) => ({match: {op: '==', left, right}})
/** The admin keeps the guests off an internal network. */
const toInternal = [match({payload: {protocol: 'ip', field: 'saddr'}}, {prefix: {addr: '192.168.122.0', len: 24}}), match({payload: {protocol: 'ip', field: 'daddr'}}, {prefix: {addr: '10.0.0.0', len: 8}}), {drop: null}]

describe('nft-forward-drop', () => {
  it('fires on the lab recording: an inet table with a dropping forward chain beside libvirt', async () => {
    const {evaluation} = await fire(rule, await factsOf('nft-forward-drop'))
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].evidence[0]).toBe('decided by: nft inet kdlab_fw chain forward (hook forward, priority 10) policy drop')
    // The policy decides: the accepts are appended, after every rule of the chain.
    expect(evaluation.findings[0].fix).toEqual(['nft add rule inet kdlab_fw forward iifname virbr0 ip saddr 192.168.122.0/24 accept', 'nft add rule inet kdlab_fw forward oifname virbr0 ip daddr 192.168.122.0/24 ct state related,established accept'])
  })
  it("a policy's accepts never go to the chain's top, past the admin's own drops: appended, or before the chain's first return (what returns meets the policy)", async () => {
    // At the top (nft insert rule ... without a position) they would take the guests' traffic to 10.0.0.0/8 past the drop.
    const behindDrop = (await fire(rule, await kdlabFwWith(toInternal))).evaluation.findings.map((f) => f.fix)
    expect(behindDrop).toEqual([['nft add rule inet kdlab_fw forward iifname virbr0 ip saddr 192.168.122.0/24 accept', 'nft add rule inet kdlab_fw forward oifname virbr0 ip daddr 192.168.122.0/24 ct state related,established accept']])
    // A return (handle 3) ends the base chain for what it matches, at the policy: appended accepts would never be met.
    const returning = await kdlabFwWith(toInternal, [match({meta: {key: 'oifname'}}, 'eth0'), {return: null}])
    expect((await fire(rule, returning)).evaluation.findings.map((f) => f.fix)).toEqual([
      ['nft insert rule inet kdlab_fw forward position 3 iifname virbr0 ip saddr 192.168.122.0/24 accept', 'nft insert rule inet kdlab_fw forward position 3 oifname virbr0 ip daddr 192.168.122.0/24 ct state related,established accept'],
    ])
  })
  it('a drop rule gets its accepts just before it (nft insert ... position HANDLE): the rules before it keep deciding', async () => {
    const dropAll = [match({meta: {key: 'iifname'}}, 'virbr0'), {drop: null}]
    const {evaluation} = await fire(rule, await kdlabFwWith(toInternal, dropAll))
    expect(evaluation.findings.map((f) => f.fix)).toEqual([
      ['nft insert rule inet kdlab_fw forward position 3 iifname virbr0 ip saddr 192.168.122.0/24 accept', 'nft insert rule inet kdlab_fw forward position 3 oifname virbr0 ip daddr 192.168.122.0/24 ct state related,established accept'],
    ])
  })
  it('fires for a drop rule in a chain of earlier priority (lab), with narrow accepts before it', async () => {
    const {evaluation} = await fire(rule, await factsOf('nft-forward-daddr-drop'))
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].fix).toEqual([expect.stringMatching(/^nft insert rule inet \S+ \S+ position \d+ iifname virbr0 ip saddr 192\.168\.122\.0\/24 accept$/), expect.stringMatching(/^nft insert rule inet \S+ \S+ position \d+ oifname virbr0 ip daddr 192\.168\.122\.0\/24 ct state related,established accept$/)])
  })
  it('stays silent with a firewalld table that puts the bridge in its libvirt zone (lab), and on the healthy host', async () => {
    expect((await fire(rule, await factsOf('firewalld-style-healthy'))).names).toEqual([])
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
})
