/**
 * The bundled CLI the Ansible role installs (npm run pack:cli): unpacked anywhere, with no
 * node_modules of this checkout up the tree, it runs every command the role and a user need.
 */
import {execFileSync} from 'node:child_process'
import {mkdtemp, readdir} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {beforeAll, describe, expect, it} from 'vitest'
import {ROOT, fixtureDir} from './helpers.js'
import {SCHEMAS, problems} from './schemas.js'

describe('the bundled CLI archive', () => {
  let cli: string
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kd-pack-'))
    execFileSync(process.execPath, [join(ROOT, 'scripts/pack-cli.mjs'), join(dir, 'kvmdoctor-cli.tar.gz')], {encoding: 'utf8'})
    execFileSync('tar', ['-xzf', join(dir, 'kvmdoctor-cli.tar.gz'), '-C', dir])
    const [top] = (await readdir(dir)).filter((n) => n.startsWith('kvmdoctor-') && !n.endsWith('.tar.gz'))
    cli = join(dir, top, 'bin/run.js')
  })

  // As on a host: no NODE_PATH, no NODE_ENV (vitest's "test" would make oclif look for TypeScript sources).
  const run = (args: string[]) => execa(process.execPath, [cli, ...args], {reject: false, stdin: 'ignore', cwd: tmpdir(), extendEnv: false, env: {PATH: process.env.PATH ?? '/usr/bin:/bin'}})

  it('diagnoses (JSON, HTML, prometheus), bundles, lists rules and builds a fleet view on its own', async () => {
    const json = await run(['diagnose', '--from', fixtureDir('ip-forward-off'), '--format', 'json'])
    expect(json.exitCode, json.stderr).toBe(1)
    const report = JSON.parse(json.stdout)
    expect(SCHEMAS.report(report), problems(SCHEMAS.report)).toBe(true)
    expect(report.findings[0].id).toBe('ip-forward-disabled')
    for (const format of ['html', 'prometheus', 'md']) expect((await run(['diagnose', '--from', fixtureDir('healthy'), '--format', format])).stderr, format).toBe('')
    expect((await run(['rules', 'show', 'link-down'])).stdout).toMatch(/^# link-down/)
    const fleet = await run(['fleet', fixtureDir('healthy'), '--json'])
    expect(JSON.parse(fleet.stdout).errors[0].message).toMatch(/no report/)
  })
})
