import {describe, expect, it} from 'vitest'
import rule from '../../rules/hook-rules-lost.js'
import {withProbeData} from '../helpers.js'
import {HOST, fireInbound, healthy, hookFor, withForward} from '../inbound.js'

describe('hook-rules-lost', () => {
  it("fires when the hook's rules are gone while web01 runs: run the hook as libvirtd does on reconnect, every value quoted", async () => {
    const {facts, web} = await healthy()
    const {findings} = await fireInbound(rule, withProbeData(facts, 'libvirt-hooks', hookFor('kdlab-web01', web)))
    expect(findings).toHaveLength(1)
    const f = findings[0]
    expect(f.title).toBe('The rules /etc/libvirt/hooks/qemu adds for kdlab-web01 are missing from the ruleset')
    expect(f.evidence[0]).toBe(`missing: /etc/libvirt/hooks/qemu (line 18): DNAT tcp ${HOST}:8080 to ${web}:80, /etc/libvirt/hooks/qemu (line 17): accept tcp to ${web} port 80 out of virbr0`)
    expect(f.fix).toEqual(["virsh dumpxml kdlab-web01 | /etc/libvirt/hooks/qemu kdlab-web01 reconnect begin -"])
  })

  it('keeps a script name with a space, a quote and a $ one word in the command', async () => {
    const {facts, web} = await healthy()
    const path = "/etc/libvirt/hooks/qemu.d/web's $HOME fwd"
    const {findings} = await fireInbound(rule, withProbeData(facts, 'libvirt-hooks', hookFor('kdlab-web01', web, path)))
    expect(findings.map((f) => f.fix)).toEqual([[`virsh dumpxml kdlab-web01 | '/etc/libvirt/hooks/qemu.d/web'\\''s $HOME fwd' kdlab-web01 reconnect begin -`]])
  })

  it("stays silent when the hook's DNAT and accept are in the ruleset", async () => {
    const {facts, web} = await healthy()
    const {findings, evaluation} = await fireInbound(rule, withForward(withProbeData(facts, 'libvirt-hooks', hookFor('kdlab-web01', web)), web))
    expect(findings).toEqual([])
    expect(evaluation.checked.filter((c) => c.ruleId === rule.id).length).toBe(1)
  })

  it('stays silent for a hook of a guest that does not run (its rules come when it starts)', async () => {
    const {facts} = await healthy()
    const {findings} = await fireInbound(rule, withProbeData(facts, 'libvirt-hooks', hookFor('kdlab-db01', '192.168.122.77')))
    expect(findings).toEqual([])
  })

  it('stays silent on a host without hooks (checked: nothing to check)', async () => {
    const {facts} = await healthy()
    const {findings, evaluation} = await fireInbound(rule, withProbeData(facts, 'libvirt-hooks', {scripts: []}))
    expect(findings).toEqual([])
    expect(evaluation.notChecked).toEqual([])
  })

  it('is not checked on a recording made before the hooks were read (never a pass)', async () => {
    const {facts} = await healthy()
    const {findings, evaluation} = await fireInbound(rule, facts)
    expect(findings).toEqual([])
    expect(evaluation.checked).toEqual([])
    expect(evaluation.notChecked.map((n) => n.reason)).toEqual(['probe libvirt-hooks unavailable: /etc/libvirt/hooks: not recorded in this snapshot (the recording predates this probe)'])
  })
})
