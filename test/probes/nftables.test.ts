import {describe, expect, it} from 'vitest'
import {parseNftRuleset} from '../../probes/nftables.js'
import {ParseError} from '../../probes/types.js'
import {sample} from '../helpers.js'

describe('parseNftRuleset (nft -j list ruleset)', () => {
  const facts = parseNftRuleset(sample('nft-j-list-ruleset.json'))

  it('reads tables and base chains with hook, priority and policy', () => {
    expect(facts.tables.map((t) => `${t.family} ${t.name}`)).toContain('ip filter')
    const forward = facts.chains.find((c) => c.table === 'filter' && c.name === 'FORWARD')!
    expect(forward).toMatchObject({family: 'ip', hook: 'forward', type: 'filter', priority: 0, policy: 'accept'})
    expect(facts.chains.find((c) => c.name === 'LIBVIRT_INP')?.hook).toBeUndefined()
  })

  it('summarises rules: verdicts, jumps, interfaces and addresses', () => {
    const forward = facts.chains.find((c) => c.table === 'filter' && c.name === 'FORWARD')!
    expect(forward.rules.map((r) => `${r.verdict} ${r.jumpTarget}`)).toEqual(['jump LIBVIRT_FWX', 'jump LIBVIRT_FWI', 'jump LIBVIRT_FWO'])
    const inp = facts.chains.find((c) => c.name === 'LIBVIRT_INP')!
    expect(inp.rules[0]).toMatchObject({verdict: 'accept', iif: 'virbr0'})
    const prt = facts.chains.find((c) => c.table === 'nat' && c.name === 'LIBVIRT_PRT')!
    const masq = prt.rules.filter((r) => r.verdict === 'masquerade')
    expect(masq.length).toBeGreaterThan(0)
    expect(masq[0]).toMatchObject({saddr: '192.168.122.0/24', daddr: '192.168.122.0/24', negated: ['daddr']})
  })

  it('rejects documents that are not an nft ruleset', () => {
    expect(() => parseNftRuleset('{"foo": []}')).toThrow(ParseError)
    expect(() => parseNftRuleset('Error: Could not process rule')).toThrow(ParseError)
  })
})
