import {describe, expect, it} from 'vitest'
import type {SysctlFacts} from '../../probes/sysctl.js'
import rule from '../../rules/bridge-netfilter-enabled.js'
import type {NfRuleset} from '../../src/lib/netfilter.js'
import {renderStep} from '../../src/lib/fix.js'
import {alter, factsOf, fire, fireAll, model, withIptablesRule} from '../helpers.js'
import type {Link} from '../../probes/links.js'
import {dataOf} from '../../probes/types.js'

/** The recording without Docker: its jump and chains gone, FORWARD's DROP policy decides the bridged frames. */
const noDocker = (facts: Awaited<ReturnType<typeof factsOf>>) =>
  alter<NfRuleset>(facts, 'netfilter', (rs) => {
    const filter = rs.tables.find((t) => t.backend === 'iptables-nft' && t.name === 'filter')!
    for (const name of Object.keys(filter.chains)) if (name.startsWith('DOCKER')) delete filter.chains[name]
    filter.chains.FORWARD.rules = filter.chains.FORWARD.rules.filter((r) => !/DOCKER/.test(r.text)).map((r, index) => ({...r, ref: {...r.ref, index}}))
  })

describe('bridge-netfilter-enabled', () => {
  it('fires as high when bridged guest frames meet a dropping FORWARD chain (lab)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('bridged-forward-drop'))
    expect(names).toEqual(['kdlab-br0'])
    expect(evaluation.findings[0].severity).toBe('high')
  })
  it("stays silent on the bridge of an isolated libvirt network (lab): libvirt made it, no LAN port is on it, as on a NAT network's", async () => {
    const facts = await factsOf('network-isolated')
    expect(dataOf<Link[]>(facts.results.links)!.some((l) => l.name === 'kdlab-iso' && l.kind === 'bridge')).toBe(true)
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it("clears once its own fix is in: the DOCKER-USER accepts it prints, applied to the recording's facts, let the bridged flows through", async () => {
    const facts = await factsOf('bridged-forward-drop')
    const before = await fire(rule, facts)
    const printed = before.evaluation.findings[0].fixSteps.map(renderStep)
    // Frames in and out by the bridge, both ways: nothing the host routes from that LAN elsewhere.
    expect(printed).toEqual(['iptables -t filter -I DOCKER-USER -i kdlab-br0 -o kdlab-br0 -j ACCEPT'])
    // Each printed insert as iptables -I puts it: first in the chain, the later line above the earlier.
    const fixed = printed.reduce((f, line) => withIptablesRule(f, 'filter', line.replace(/^iptables -t filter -I /, '-A ')), facts)
    const after = await fireAll(fixed)
    expect(after.ids).not.toContain('bridge-netfilter-enabled')
    expect(after.ids).not.toContain('iptables-forward-drop')
    const {datapath} = model(fixed)
    if (!datapath.ok) throw new Error(datapath.reason)
    const flows = datapath.datapath.flows.filter((f) => f.guest === 'kdlab-lan01')
    expect(flows.map((f) => `${f.kind} ${f.verdict}`)).toEqual(['dhcp pass', 'dhcp-reply pass', 'egress pass', 'egress-reply pass'])
    // Checked, and a pass: the rule saw the bridge and what accepts its frames.
    expect(after.evaluation.notChecked.map((n) => n.entity?.name)).not.toContain('kdlab-br0')
  })
  it("stays silent when the admin's own rule accepts the bridged frames (a physdev-is-bridged accept first)", async () => {
    const facts = withIptablesRule(await factsOf('bridged-forward-drop'), 'filter', '-A FORWARD -m physdev --physdev-is-bridged -j ACCEPT')
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('fires as low when the bridged frames pass only by the chain policy (FORWARD ACCEPT, no rule for them): a change of policy cuts the guests off', async () => {
    const facts = alter<NfRuleset>(await factsOf('bridged-forward-drop'), 'netfilter', (rs) => (rs.tables.find((t) => t.backend === 'iptables-nft' && t.name === 'filter')!.chains.FORWARD.base!.policy = 'accept'))
    const {evaluation} = await fire(rule, facts)
    expect(evaluation.findings.map((f) => `${f.entity.name}:${f.severity}`)).toEqual(['kdlab-br0:low'])
    // Docker relies on br_netfilter: the fix pins the frames with accepts where the admin's go, never the sysctl.
    expect(evaluation.findings[0].fixSteps.map(renderStep)).toEqual(['iptables -t filter -I DOCKER-USER -i kdlab-br0 -o kdlab-br0 -j ACCEPT'])
  })
  it("without Docker, accepts the bridged frames just before the drop, never at FORWARD's top past the rules before it (a -m physdev drop, libvirt's nwfilter jumps); for the policy: appended", async () => {
    // The admin keeps one guest port's SSH off, by its bridge port: a rule br_netfilter alone lets see the frames.
    const portRule = '-A FORWARD -m physdev --physdev-out vnet99 --physdev-is-bridged -p tcp -m tcp --dport 22 -j DROP'
    const facts = noDocker(withIptablesRule(await factsOf('bridged-forward-drop'), 'filter', portRule, 0))
    const policy = (await fire(rule, facts)).evaluation.findings.map((f) => f.fixSteps.map(renderStep))
    expect(policy).toEqual([['iptables -t filter -A FORWARD -i kdlab-br0 -o kdlab-br0 -j ACCEPT']])
    // An explicit DROP of the frames (rule 2, after the port rule): the accept goes just before it.
    const dropRule = withIptablesRule(facts, 'filter', '-A FORWARD -i kdlab-br0 -j DROP', 1)
    expect((await fire(rule, dropRule)).evaluation.findings.map((f) => f.fixSteps.map(renderStep))).toEqual([['iptables -t filter -I FORWARD 2 -i kdlab-br0 -o kdlab-br0 -j ACCEPT']])
  })
  it('never switches br_netfilter off under rules that match bridge ports (-m physdev: libvirt\'s nwfilter, the admin\'s): they would stop filtering; without such rules the switch is the fix', async () => {
    const passing = alter<NfRuleset>(noDocker(await factsOf('bridged-forward-drop')), 'netfilter', (rs) => (rs.tables.find((t) => t.backend === 'iptables-nft' && t.name === 'filter')!.chains.FORWARD.base!.policy = 'accept'))
    const plain = (await fire(rule, passing)).evaluation.findings
    expect(plain.map((f) => f.fixSteps.map(renderStep)[0])).toEqual(['sysctl -w net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0'])
    const filtered = withIptablesRule(passing, 'filter', '-A FORWARD -m physdev --physdev-out vnet99 --physdev-is-bridged -p tcp -m tcp --dport 22 -j DROP', 0)
    const {evaluation} = await fire(rule, filtered)
    expect(evaluation.findings.map((f) => f.fixSteps)).toEqual([[]])
    expect(evaluation.findings[0].note).toContainEqual(expect.stringMatching(/-m physdev.*stays on/))
  })
  it('stays silent when the key is 0 or absent (module not loaded)', async () => {
    const zero = alter<SysctlFacts>(await factsOf('bridged-forward-drop'), 'sysctl', (s) => (s.values['net.bridge.bridge-nf-call-iptables'] = 0))
    expect((await fire(rule, zero)).names).toEqual([])
    const absent = alter<SysctlFacts>(await factsOf('bridged-forward-drop'), 'sysctl', (s) => (s.values['net.bridge.bridge-nf-call-iptables'] = null))
    const {names, evaluation} = await fire(rule, absent)
    expect(names).toEqual([])
    // No key: br_netfilter is not loaded, so bridged frames never reach iptables: checked, and a pass.
    expect(evaluation.notChecked.map((n) => n.entity?.name)).not.toContain('kdlab-br0')
  })
  it('is not checked where the key exists but could not be read', async () => {
    const unreadable = alter<SysctlFacts>(await factsOf('bridged-forward-drop'), 'sysctl', (s) => {
      delete s.values['net.bridge.bridge-nf-call-iptables']
      s.unreadable['net.bridge.bridge-nf-call-iptables'] = 'permission denied'
    })
    const {names, evaluation} = await fire(rule, unreadable)
    expect(names).toEqual([])
    expect(evaluation.notChecked.map((n) => n.entity?.name)).toContain('kdlab-br0')
  })
  it("stays silent for libvirt's NAT bridge (routed, not bridged, traffic)", async () => {
    const facts = alter<SysctlFacts>(await factsOf('healthy'), 'sysctl', (s) => (s.values['net.bridge.bridge-nf-call-iptables'] = 1))
    expect((await fire(rule, facts)).names).toEqual([])
  })
})
