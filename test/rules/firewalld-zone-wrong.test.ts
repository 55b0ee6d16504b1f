import {describe, expect, it} from 'vitest'
import rule from '../../rules/firewalld-zone-wrong.js'
import {factsOf, fire} from '../helpers.js'

const withFirewalld = async (zone: string | null) => {
  const facts = await factsOf('healthy')
  const results = structuredClone(facts.results)
  results.firewalld = {id: 'firewalld', ok: true, data: {running: true, zones: {virbr0: zone}}, durationMs: 0}
  return {...facts, results}
}

describe('firewalld-zone-wrong', () => {
  it("fires when the bridge is in zone public", async () => {
    const {names, evaluation} = await fire(rule, await withFirewalld('public'))
    expect(names).toEqual(['default'])
    expect(evaluation.findings[0].fix).toEqual(['firewall-cmd --zone=libvirt --change-interface=virbr0', 'firewall-cmd --permanent --zone=libvirt --change-interface=virbr0'])
  })
  it('fires when the bridge is in no zone', async () => {
    expect((await fire(rule, await withFirewalld(null))).names).toEqual(['default'])
  })
  it("stays silent in zone libvirt, and without firewalld (healthy lab)", async () => {
    expect((await fire(rule, await withFirewalld('libvirt'))).names).toEqual([])
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
})
