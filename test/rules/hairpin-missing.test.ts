import {describe, expect, it} from 'vitest'
import rule from '../../rules/hairpin-missing.js'
import {factsOf, fire, withIptablesRule} from '../helpers.js'
import {HOST, fireInbound, healthy, withForward} from '../inbound.js'

describe('hairpin-missing', () => {
  it('fires for a forward that only PREROUTING translates: the host itself cannot use the published address (a nat OUTPUT DNAT, quoted)', async () => {
    const {facts, web} = await healthy()
    const {findings} = await fireInbound(rule, withForward(facts, web))
    expect(findings).toHaveLength(1)
    const f = findings[0]
    expect(f.title).toBe(`The published port tcp ${HOST}:8080 -> ${web}:80 works from outside only: the host itself cannot use ${HOST}`)
    expect(f.fix).toEqual([`iptables -t nat -I OUTPUT -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${web}:80`])
    // web01 is the only guest: no guest-to-guest hairpin was followed, and the finding does not say it works.
    expect(f.summary).toContain('From another guest: not checked (no other running guest with a known address to try it from)')
    expect(f.summary).not.toContain('it works')
  })

  it('stays silent when nat OUTPUT has the same DNAT (the host reaches the guest by the published address)', async () => {
    const {facts, web} = await healthy()
    const hairpin = withIptablesRule(withForward(facts, web), 'nat', `-A OUTPUT -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${web}:80`)
    const {findings, evaluation} = await fireInbound(rule, hairpin)
    expect(findings).toEqual([])
    expect(evaluation.checked.filter((c) => c.ruleId === rule.id).length).toBe(1)
  })

  it('stays silent while the forward fails from outside too (port-forward-blocked is the fault to fix first)', async () => {
    const {facts, web} = await healthy()
    expect((await fireInbound(rule, withForward(facts, web, false))).findings).toEqual([])
  })
  it('a forward that names only its in-device (-i kdlab-up0, no -d): the fix DNATs that device\'s address, never every local one (127.0.0.1:8080 and the guests\' gateway would be taken), and the title names it', async () => {
    // The lab's inbound-hairpin-missing recording with its DNAT matched on the uplink device instead of its address.
    const {evaluation} = await fire(rule, await factsOf('inbound-hairpin-iif-only'))
    expect(evaluation.findings).toHaveLength(1)
    const [f] = evaluation.findings
    expect(f.title).toBe('The published port tcp 8080 -> 192.168.122.190:80 works from outside only: the host itself cannot use 198.51.100.1')
    expect(f.fix).toEqual(['iptables -t nat -I OUTPUT -d 198.51.100.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.122.190:80'])
  })
})
