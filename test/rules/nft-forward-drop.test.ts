import {describe, expect, it} from 'vitest'
import rule from '../../rules/nft-forward-drop.js'
import {factsOf, fire} from '../helpers.js'

describe('nft-forward-drop', () => {
  it('fires on the lab recording: an inet table with a dropping forward chain beside libvirt', async () => {
    const {evaluation} = await fire(rule, await factsOf('nft-forward-drop'))
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].evidence[0]).toBe('decided by: nft inet kdlab_fw chain forward (hook forward, priority 10) policy drop')
    expect(evaluation.findings[0].fix).toEqual(['nft insert rule inet kdlab_fw forward iifname virbr0 ip saddr 192.168.122.0/24 accept', 'nft insert rule inet kdlab_fw forward oifname virbr0 ip daddr 192.168.122.0/24 ct state related,established accept'])
  })
  it('fires for a drop rule in a chain of earlier priority (lab), with narrow accepts before it', async () => {
    const {evaluation} = await fire(rule, await factsOf('nft-forward-daddr-drop'))
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].fix).toEqual([expect.stringMatching(/^nft insert rule inet \S+ \S+ iifname virbr0 ip saddr 192\.168\.122\.0\/24 accept$/), expect.stringMatching(/^nft insert rule inet \S+ \S+ oifname virbr0 ip daddr 192\.168\.122\.0\/24 ct state related,established accept$/)])
  })
  it('stays silent with a firewalld table that puts the bridge in its libvirt zone (lab), and on the healthy host', async () => {
    expect((await fire(rule, await factsOf('firewalld-style-healthy'))).names).toEqual([])
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
})
