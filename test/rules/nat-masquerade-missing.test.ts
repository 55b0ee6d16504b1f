import {describe, expect, it} from 'vitest'
import {buildRuleset} from '../../probes/netfilter/ruleset.js'
import rule from '../../rules/nat-masquerade-missing.js'
import type {NetfilterFacts} from '../../probes/netfilter.js'
import moduleMissing from '../../rules/netfilter-module-missing.js'
import serviceOrder from '../../rules/firewall-service-order.js'
import type {ModuleFacts} from '../../probes/modules.js'
import type {ServiceFacts} from '../../probes/services.js'
import {alter, factsOf, fire, iptablesTables, withProbeData, netfilterData, unavailable, withIptablesRule, withRuleset, recordedOutput} from '../helpers.js'

const libvirtNftBackend = () => buildRuleset({nft: {json: netfilterData('libvirt-nftables.nft-j-list-ruleset.json'), text: netfilterData('libvirt-nftables.nft-a-list-ruleset.txt')}})

describe('nat-masquerade-missing', () => {
  it("fires when libvirt's MASQUERADE rules are gone (lab: deleted from LIBVIRT_PRT)", async () => {
    const {names, evaluation} = await fire(rule, await factsOf('masquerade-removed'))
    expect(names).toEqual(['default'])
    // libvirt's daemon re-applies the rules: no network restart, no guest cut off.
    expect(evaluation.findings[0].fix).toEqual(['systemctl restart libvirtd'])
  })
  it('stays silent on the healthy host, where the rules are reachable from POSTROUTING', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it("stays silent with libvirt's nftables backend: masquerade in table ip libvirt_network (real listing)", async () => {
    expect((await fire(rule, withRuleset(await factsOf('masquerade-removed'), libvirtNftBackend()))).names).toEqual([])
  })
  it('stays silent for a blanket MASQUERADE without -s (it covers the guests too)', async () => {
    const facts = withIptablesRule(await factsOf('masquerade-removed'), 'nat', '-A POSTROUTING -o eth0 -j MASQUERADE', 1)
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('fires when the only MASQUERADE is in a chain nothing jumps to', async () => {
    const facts = alter<NetfilterFacts>(await factsOf('masquerade-removed'), 'netfilter', (nf) => {
      const orphan = iptablesTables('*nat\n:ORPHAN - [0:0]\n-A ORPHAN -s 192.168.122.0/24 -j MASQUERADE\nCOMMIT\n')[0].chains.ORPHAN
      nf.tables.find((t) => t.backend === 'iptables-nft' && t.family === 'ip' && t.name === 'nat')!.chains.ORPHAN = orphan
    })
    expect((await fire(rule, facts)).names).toEqual(['default'])
  })
  it("stays silent when iptables-save calls the nat table incompatible and prints none of it: libvirt's MASQUERADE is then nft's xt target", async () => {
    const recorded = (file: string) => recordedOutput('healthy', file)
    const save = recorded('command-iptables-save--c.txt').replace(/\*nat\n[\s\S]*?COMMIT\n/, "# Table `nat' is incompatible, use 'nft' tool.\n")
    const rs = buildRuleset({iptables: [{text: save, family: 'ip'}], nft: {json: recorded('command-nft--j-list-ruleset.txt'), text: recorded('command-nft--a-list-ruleset.txt')}})
    let facts = withRuleset(await factsOf('healthy'), rs)
    expect((await fire(rule, facts)).names).toEqual([])
    // Nor do the rules that start from a missing MASQUERADE: modules not loaded, a firewall started after libvirt.
    facts = withProbeData(facts, 'modules', {loadable: true, loaded: ['nf_tables'], builtin: []} satisfies ModuleFacts)
    expect((await fire(moduleMissing, facts)).names).toEqual([])
    const later = Date.parse('2026-11-28T17:50:00Z')
    facts = withProbeData(facts, 'services', {systemd: true, events: [
      {service: 'libvirtd', role: 'libvirt', what: 'started', at: later - 60_000, source: 'systemd'},
      {service: 'firewalld', role: 'firewall', what: 'started', at: later, source: 'systemd'},
    ]} satisfies ServiceFacts)
    expect((await fire(serviceOrder, facts)).names).toEqual([])
  })
  it('is not checked when the packet filter could not be read', async () => {
    const {names, evaluation} = await fire(rule, unavailable(await factsOf('masquerade-removed'), 'netfilter', 'iptables-save: exit 4: Permission denied (you must be root)'))
    expect(names).toEqual([])
    expect(evaluation.notChecked[0].reason).toMatch(/netfilter unavailable: iptables-save/)
  })
})
