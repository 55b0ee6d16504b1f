import {describe, expect, it} from 'vitest'
import {type ServiceFacts, parsePsStarts, parseSystemctlShow} from '../../probes/services.js'
import rule from '../../rules/firewall-service-order.js'
import {type Facts, alter, factsOf, fire, fireAll, unavailable, withProbeData} from '../helpers.js'

/**
 * The lab has no service manager (no systemd, no firewalld daemon): it reproduces the rules a reload
 * leaves (libvirt's gone) but not the record of which service ran when. These tests keep the recorded
 * ruleset and add that one fact, as `systemctl show --timestamp=unix` prints it.
 */
const at = (facts: Facts, offsetSeconds: number) => `@${Math.round(facts.capturedAt.getTime() / 1000) + offsetSeconds}`
function systemd(facts: Facts, firewallOffset: number, what: 'start' | 'reload' = 'start'): ServiceFacts {
  const text = [
    `Id=libvirtd.service\nActiveState=active\nActiveEnterTimestamp=${at(facts, -3600)}\nExecMainStartTimestamp=${at(facts, -3600)}\nExecReload=`,
    what === 'start'
      ? `Id=netfilter-persistent.service\nActiveState=active\nActiveEnterTimestamp=${at(facts, firewallOffset)}\nExecMainStartTimestamp=\nExecReload=`
      : `Id=firewalld.service\nActiveState=active\nActiveEnterTimestamp=${at(facts, -7200)}\nExecMainStartTimestamp=${at(facts, -7200)}\nExecReload={ path=/bin/kill ; argv[]=/bin/kill -HUP $MAINPID ; ignore_errors=no ; start_time=[${at(facts, firewallOffset)}] ; stop_time=[${at(facts, firewallOffset)}] ; pid=4242 ; code=exited ; status=0 }`,
    'Id=ufw.service\nActiveState=inactive\nActiveEnterTimestamp=\nExecMainStartTimestamp=\nExecReload=',
  ].join('\n\n')
  return {systemd: true, events: parseSystemctlShow(text)}
}

describe('firewall-service-order', () => {
  it("fires on the lab's firewall reload after libvirtd once a firewall daemon is on record as younger than libvirtd (the one fact the lab cannot make)", async () => {
    const reload = await factsOf('firewall-reload-after-libvirtd')
    // Recorded: libvirtd's own start (ps etimes), no service manager, libvirt's chains gone.
    const facts = alter<ServiceFacts>(reload, 'services', (s) => {
      const libvirtd = s.events.find((e) => e.service === 'libvirtd')!
      s.events.push({service: 'firewalld', role: 'firewall', what: 'started', at: libvirtd.at + 60_000, source: 'ps etimes (pid 4242)'})
    })
    const {ids, evaluation} = await fireAll(facts)
    expect(ids[0]).toBe('firewall-service-order')
    expect(evaluation.findings[0].evidence).toContainEqual(expect.stringMatching(/^libvirt daemon: libvirtd started .* \(ps etimes \(pid \d+\)\)$/))
    // As recorded, the order is not known: the rule does not guess it.
    expect((await fire(rule, reload)).names).toEqual([])
  })
  it('fires when netfilter-persistent started after libvirtd and libvirt\'s rules are gone (lab ruleset, unit times added)', async () => {
    const base = await factsOf('firewall-flushed')
    const {evaluation} = await fire(rule, withProbeData(base, 'services', systemd(base, -60)))
    expect(evaluation.findings.map((f) => f.entity.name)).toEqual(['default'])
    expect(evaluation.findings[0].evidence).toContainEqual(expect.stringMatching(/^after it: netfilter-persistent started .* \(systemd\)$/))
    expect(evaluation.findings[0].fix).toEqual(['systemctl restart libvirtd'])
  })
  it('fires for a firewalld reload (ExecReload) after libvirtd, and is ranked first with libvirt-firewall-rules-missing under it', async () => {
    const base = await factsOf('firewall-flushed')
    const {evaluation} = await fireAll(withProbeData(base, 'services', systemd(base, -30, 'reload')))
    const order = evaluation.findings.map((f) => f.id)
    expect(order[0]).toBe('firewall-service-order')
    expect(evaluation.findings.find((f) => f.id === 'libvirt-firewall-rules-missing')?.explainedBy).toMatch(/^firewall-service-order@/)
  })
  it('fires on process ages where there is no systemd: firewalld younger than libvirtd', async () => {
    const base = await factsOf('firewall-flushed')
    const events = parsePsStarts('  812  7200 /usr/sbin/libvirtd --timeout 120\n 4242    60 /usr/bin/python3 -sP /usr/sbin/firewalld --nofork --nopid\n', base.capturedAt)
    expect((await fire(rule, withProbeData(base, 'services', {systemd: false, events}))).names).toEqual(['default'])
  })
  it('stays silent when the firewall started before libvirtd (the rules were lost another way)', async () => {
    const base = await factsOf('firewall-flushed')
    expect((await fire(rule, withProbeData(base, 'services', systemd(base, -7200)))).names).toEqual([])
  })
  it('stays silent on the healthy host even with a firewall reload after libvirtd (libvirt re-added its rules)', async () => {
    const base = await factsOf('healthy')
    expect((await fire(rule, withProbeData(base, 'services', systemd(base, -30, 'reload')))).names).toEqual([])
  })
  it('is not checked when the service times could not be read (a recording that predates the probe)', async () => {
    const facts = unavailable(await factsOf('firewall-flushed'), 'services', 'command ps -eo pid=,etimes=,args= not recorded (the recording predates this probe)')
    const {evaluation, names} = await fire(rule, facts)
    expect(names).toEqual([])
    expect(evaluation.notChecked[0].reason).toMatch(/services unavailable: .*predates this probe/)
  })
})
