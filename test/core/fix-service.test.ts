import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {interactiveStep, judgeFix, runStep, selectFinding} from '../../src/core/fix-service.js'
import type {Finding} from '../../src/result/findings.js'
import {kvmdoctorCli} from '../helpers.js'

const finding = (id: string, name: string, severity: Finding['severity'] = 'high', kind: Finding['entity']['kind'] = 'network'): Finding => ({
  id, severity, rank: 0, entity: {kind, name}, title: id, summary: '', evidence: [], fix: [], fixSteps: [], explains: [], blastRadius: 0, stable: {ruleId: id, name},
})

describe('kvmdoctor fix', () => {
  it('selects FINDING[@ENTITY] by name or KIND:NAME, and asks for the entity when there are several', () => {
    const all = [finding('link-down', 'virbr0', 'high', 'link'), finding('link-down', 'vnet0', 'high', 'link'), finding('dns-port-conflict', 'default')]
    expect(selectFinding(all, 'dns-port-conflict')?.entity.name).toBe('default')
    expect(selectFinding(all, 'link-down@link:vnet0')?.entity.name).toBe('vnet0')
    expect(selectFinding(all, 'link-down@virbr0')?.entity.name).toBe('virbr0')
    expect(() => selectFinding(all, 'link-down')).toThrow(/on 2 entities: name one, e.g. link-down@link:virbr0/)
    expect(selectFinding(all, 'link-down@eth9')).toBeUndefined()
  })

  it('holds only when the finding cleared and nothing new at or above its severity appeared', () => {
    const target = finding('dns-port-conflict', 'default', 'critical')
    const low = finding('guest-agent-missing', 'web01', 'low', 'domain')
    expect(judgeFix([target], [low], target)).toEqual({cleared: true, appeared: []})
    expect(judgeFix([target], [target], target).cleared).toBe(false)
    const worse = finding('libvirt-network-inactive', 'default', 'critical')
    expect(judgeFix([target], [worse], target).appeared).toEqual([worse])
  })

  it('runs argv without a shell, pipelines through pipes, writes files directly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvmdoctor-fix-run-'))
    try {
      const hostile = `$(touch ${join(dir, 'PWNED')}); touch ${join(dir, 'PWNED')}`
      expect(await runStep({argv: ['printf', '%s', hostile]})).toMatchObject({ok: true, detail: hostile})
      expect(await runStep({pipeline: [['printf', 'b\\na\\n'], ['sort']]})).toMatchObject({ok: true, detail: 'a\nb'})
      expect(await runStep({argv: ['false']})).toMatchObject({ok: false})
      expect((await runStep({argv: ['/nonexistent/tool']})).ok).toBe(false)
      const file = join(dir, 'x.conf')
      await runStep({write: {path: file, content: 'a = 1\n', append: true}})
      await runStep({write: {path: file, content: 'b = 2\n', append: true}})
      expect(readFileSync(file, 'utf8')).toBe('a = 1\nb = 2\n')
      expect(() => readFileSync(join(dir, 'PWNED'))).toThrow()
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('an editor or a console is not run by --yes', () => {
    expect(interactiveStep({argv: ['virsh', 'net-edit', 'default']})).toBe(true)
    expect(interactiveStep({argv: ['virsh', 'net-start', 'default']})).toBe(false)
  })

  it('refuses a snapshot or bundle, and an id it does not know, with exit 2', async () => {
    const fromSnapshot = await kvmdoctorCli(['fix', 'dns-port-conflict', '--from', 'fixtures/dns-port-conflict'])
    expect(fromSnapshot.exitCode).toBe(2)
    expect(fromSnapshot.stderr).toMatch(/changes this host: it does not work on a snapshot or bundle/)
    const unknown = await kvmdoctorCli(['fix', 'no-such-rule'])
    expect(unknown.exitCode).toBe(2)
    expect(unknown.stderr).toMatch(/not a finding kvmdoctor knows/)
  }, 120_000)

  it('says in its help that it is the one command that changes the host', async () => {
    const help = await kvmdoctorCli(['fix', '--help'])
    expect(help.stdout).toMatch(/The one kvmdoctor command that changes the host, and only with --yes/)
  }, 120_000)
})
