import {describe, expect, it} from 'vitest'
import type {LogFacts} from '../../probes/logs.js'
import {type ModuleFacts, parseModulesBuiltin, parseProcModules} from '../../probes/modules.js'
import rule from '../../rules/netfilter-module-missing.js'
import {alter, factsOf, fire, fireAll, withProbeData} from '../helpers.js'

/**
 * The lab kernel has no loadable modules (no /proc/modules: everything is built in), so a missing
 * module cannot be reproduced there. These tests keep lab recordings and set the one fact the lab
 * cannot change, the module lists, in the formats /proc/modules and modules.builtin have.
 */
const PROC_MODULES = [
  'nft_chain_nat 12288 0 - Live 0x0000000000000000',
  'nf_tables 372736 1 nft_chain_nat, Live 0x0000000000000000',
  'bridge 421888 0 - Live 0x0000000000000000',
  'stp 12288 1 bridge, Live 0x0000000000000000',
  'llc 16384 2 bridge,stp, Live 0x0000000000000000',
  'nf_conntrack 196608 0 - Live 0x0000000000000000',
].join('\n')
const BUILTIN = 'kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko\nkernel/net/netfilter/x_tables.ko\n'

const withoutNat: ModuleFacts = {loadable: true, loaded: parseProcModules(PROC_MODULES), builtin: parseModulesBuiltin(BUILTIN)}
const withNat: ModuleFacts = {loadable: true, loaded: [...withoutNat.loaded, 'nf_nat', 'xt_MASQUERADE'], builtin: withoutNat.builtin}

describe('netfilter-module-missing', () => {
  it('fires when a NAT network has no MASQUERADE and nf_nat and xt_MASQUERADE are neither loaded nor built in (lab ruleset, module lists set)', async () => {
    const {evaluation} = await fire(rule, withProbeData(await factsOf('firewall-flushed'), 'modules', withoutNat))
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].fix).toEqual(['modprobe nf_nat', 'modprobe xt_MASQUERADE'])
  })
  it('fires on iptables\' own words in the log, ranked first, as the root of the missing libvirt rules', async () => {
    let facts = withProbeData(await factsOf('firewall-flushed'), 'modules', {loadable: false, loaded: [], builtin: null} satisfies ModuleFacts)
    facts = alter<LogFacts>(facts, 'logs', (l) => l.notable.push({id: 'netfilter-extension-missing', source: 'journalctl', line: 'libvirtd[812]: internal error: Failed to apply firewall rules /usr/sbin/iptables -w --table nat --insert LIBVIRT_PRT --source 192.168.122.0/24 -j MASQUERADE: Extension MASQUERADE revision 0 not supported, missing kernel module?'}))
    const {evaluation} = await fireAll(facts)
    const finding = evaluation.findings.find((f) => f.id === 'netfilter-module-missing')!
    expect(finding.fix).toEqual(['modprobe xt_MASQUERADE'])
    expect(evaluation.findings[0].id).toBe('netfilter-module-missing')
    expect(evaluation.findings.find((f) => f.id === 'libvirt-firewall-rules-missing')?.explainedBy).toMatch(/^netfilter-module-missing@/)
  })
  it('stays silent on a log line the kernel has since answered: the module it asked for is loaded now (modprobe ran, libvirtd restarted)', async () => {
    let facts = withProbeData(await factsOf('healthy'), 'modules', withNat)
    facts = alter<LogFacts>(facts, 'logs', (l) => l.notable.push({id: 'netfilter-extension-missing', source: 'journalctl', line: 'libvirtd[812]: internal error: Failed to apply firewall rules /usr/sbin/iptables -w --table nat --insert LIBVIRT_PRT --source 192.168.122.0/24 -j MASQUERADE: Extension MASQUERADE revision 0 not supported, missing kernel module?'}))
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('stays silent when the MASQUERADE exists (healthy: its modules are there, whatever the lists say)', async () => {
    expect((await fire(rule, withProbeData(await factsOf('healthy'), 'modules', withoutNat))).names).toEqual([])
  })
  it('stays silent with the modules loaded, and on a kernel without loadable modules (absence proves nothing there)', async () => {
    const flushed = await factsOf('firewall-flushed')
    expect((await fire(rule, withProbeData(flushed, 'modules', withNat))).names).toEqual([])
    expect((await fire(rule, withProbeData(flushed, 'modules', {loadable: false, loaded: [], builtin: null} satisfies ModuleFacts))).names).toEqual([])
  })
  it('accepts a module built in instead of loaded', async () => {
    const builtin = {...withoutNat, builtin: parseModulesBuiltin(`${BUILTIN}kernel/net/netfilter/nf_nat.ko\nkernel/net/netfilter/xt_MASQUERADE.ko.zst\n`)}
    expect((await fire(rule, withProbeData(await factsOf('firewall-flushed'), 'modules', builtin))).names).toEqual([])
  })
})
