import {describe, expect, it} from 'vitest'
import dadRule from '../../rules/ipv6-dad-failed.js'
import dnsRule from '../../rules/guest-dns-unanswered.js'
import {factsOf, fire} from '../helpers.js'

// wire-rogue-dhcp was recorded before the wire probe took what comes back to a guest: its capture holds web01's own frames only.
describe('rules that judge the answers a guest gets', () => {
  for (const rule of [dnsRule, dadRule]) {
    it(`${rule.id} is not checked, never passed, where the capture did not take them (a recording made before kvmdoctor did)`, async () => {
      const {names, evaluation} = await fire(rule, await factsOf('wire-rogue-dhcp'))
      expect(names).toEqual([])
      expect(evaluation.checked).toEqual([])
      expect(evaluation.notChecked.map((n) => [n.entity?.name, n.reason])).toEqual([[expect.stringMatching(/^kdlab-web01\//), expect.stringMatching(/^unknown: wireAnswersHeard \(its tap was captured without the answers it gets/)]])
    })
  }
})
