import {describe, expect, it} from 'vitest'
import {defineRule, line, probes, text} from '../../rules/kit.js'
import type {HostView, NetworkView} from '../../src/derive/index.js'

/**
 * Rules read typed views: a path that does not exist on the view, a value of the wrong type, a
 * probe that is not one, or a kind the view is not, does not compile. `npm run typecheck` checks
 * this file: each @ts-expect-error below must stay an error, or the check fails.
 */
describe('typed views', () => {
  const spec = {
    id: 'typed-example',
    severity: 'low' as const,
    needs: [probes.libvirt],
    title: (n: NetworkView) => text`network ${n.name}`,
    summary: () => '',
    evidence: (n: NetworkView) => [line`bridge ${n.bridge}`],
    fix: () => [],
  }

  it('conditions over the view compile to json-rules-engine data', () => {
    const rule = defineRule<NetworkView>({...spec, kind: 'network', conditions: (c) => c.all(c.eq('active', true), c.nonEmpty('definedGuests'), c.gte('leasesInRange', c.field('dhcpRangeSize')), c.host.eq('ipForward', 0))})
    expect(rule.conditions).toEqual({
      all: [
        {fact: 'entity', path: 'active', operator: 'equal', value: true},
        {fact: 'entity', path: 'definedGuests.length', operator: 'greaterThan', value: 0},
        {fact: 'entity', path: 'leasesInRange', operator: 'greaterThanInclusive', value: {fact: 'entity', path: 'dhcpRangeSize'}},
        {fact: 'host', path: 'ipForward', operator: 'equal', value: 0},
      ],
    })
    expect(rule.needs).toEqual(['libvirt'])
    expect(rule.kinds).toEqual(['network'])
  })

})

/** Never run: each of these must stay a compile error (a wrong path, value, list operator, kind, probe or text). */
export function wrongRules() {
  const spec = {
    id: 'typed-example',
    severity: 'low' as const,
    needs: [probes.libvirt],
    title: (n: NetworkView) => text`network ${n.name}`,
    summary: () => '',
    evidence: (n: NetworkView) => [line`bridge ${n.bridge}`],
    fix: () => [],
  }
  return [
    // @ts-expect-error: no such attribute on a network's view
    defineRule<NetworkView>({...spec, kind: 'network', conditions: (c) => c.all(c.eq('activ', true))}),
    // @ts-expect-error: `active` is a boolean
    defineRule<NetworkView>({...spec, kind: 'network', conditions: (c) => c.all(c.eq('active', 'yes'))}),
    // @ts-expect-error: `name` is no list
    defineRule<NetworkView>({...spec, kind: 'network', conditions: (c) => c.all(c.nonEmpty('name'))}),
    // @ts-expect-error: the host's view has no `bridge`
    defineRule<NetworkView>({...spec, kind: 'network', conditions: (c) => c.all(c.host.eq('bridge', 'virbr0'))}),
    // @ts-expect-error: a network's view is not a host's
    defineRule<HostView>({...spec, kind: 'network', title: () => '', evidence: () => [], conditions: (c) => c.all(c.eq('ipForward', 0))}),
    // @ts-expect-error: a probe is a reference, not a name
    defineRule<NetworkView>({...spec, kind: 'network', needs: ['libvirt'], conditions: (c) => c.all(c.eq('active', true))}),
    // @ts-expect-error: texts read the typed view too
    defineRule<NetworkView>({...spec, kind: 'network', title: (n) => text`${n.bridgeName}`, conditions: (c) => c.all(c.eq('active', true))}),
  ]
}
