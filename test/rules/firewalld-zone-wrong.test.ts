import {describe, expect, it} from 'vitest'
import rule from '../../rules/firewalld-zone-wrong.js'
import {factsOf, fire} from '../helpers.js'
import {withFirewalldZone} from './cases.js'

const withFirewalld = async (zone: string | null) => withFirewalldZone(await factsOf('healthy'), zone)

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
