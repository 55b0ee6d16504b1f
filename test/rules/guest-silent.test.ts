import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {WireFacts} from '../../probes/wire.js'
import rule from '../../rules/guest-silent.js'
import {evaluate} from '../../src/core/engine.js'
import {alter, factsOf, fire, model} from '../helpers.js'

describe('guest-silent', () => {
  it('fires for a running guest whose NIC never came up (lab, --listen 12)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('wire-silent'))
    expect(names).toHaveLength(1)
    expect(names[0]).toMatch(/^kdlab-quiet01\/vnet\d+$/)
    expect(evaluation.findings[0].evidence.join(' ')).toContain('0 frames from the guest')
  })
  it('stays silent where every guest was heard (lab: rogue DHCP server, --listen)', async () => {
    expect((await fire(rule, await factsOf('wire-rogue-dhcp'))).names).toEqual([])
  })
  it('does not call a capture cut at its cap silent', async () => {
    const facts = alter<WireFacts>(await factsOf('wire-silent'), 'wire', (w) => {
      for (const i of w.interfaces) i.capped = true
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('stays silent for a paused guest: it sends nothing by design, its NIC and OS are not at fault', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('wire-silent'), 'libvirt', (l) => {
      l.domains.find((d) => d.name === 'kdlab-quiet01')!.state = 'paused'
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('is not run at all without --listen: neither checked nor "not checked"', async () => {
    const evaluation = await evaluate(model(await factsOf('healthy')), [rule])
    expect(evaluation.checked.filter((c) => c.ruleId === rule.id)).toEqual([])
    expect(evaluation.notChecked.filter((c) => c.ruleId === rule.id)).toEqual([])
  })
})
