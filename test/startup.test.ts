/** bin/run.js answers --version itself (oclif is the CLI's largest chunk): the same line oclif prints. */
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {ROOT} from './helpers.js'

const cli = (...args: string[]) => execFileSync(process.execPath, [join(ROOT, 'bin/run.js'), ...args], {encoding: 'utf8', env: {PATH: process.env.PATH ?? '/usr/bin:/bin'}, timeout: 60_000})

describe('start-up', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))

  it('--version and -v print the version line oclif prints, without loading oclif', () => {
    const line = `kvmdoctor/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`
    expect(cli('--version')).toBe(line)
    expect(cli('-v')).toBe(line)
    // With anything else on the line oclif decides, as before (and prints the same line).
    expect(cli('--version', '--json')).toBe(line)
  })

  it('runs the quick paths (--version, a help page, a plain diagnose) without Node\'s ES module loader', () => {
    // bin/run.js is CommonJS (bin/package.json): an ES module entry had Node load its module loader first.
    const hook = join(mkdtempSync(join(tmpdir(), 'kd-startup-')), 'loaded.cjs')
    writeFileSync(hook, "process.on('exit', () => process.stderr.write(`\\nmodule jobs: ${process.moduleLoadList.filter((m) => m.includes('esm/module_job')).length}\\n`))")
    for (const args of [['--version'], ['--help'], ['diagnose', '--from', join(ROOT, 'fixtures/healthy'), '--format', 'json', '--allow-unchecked']]) {
      const run = spawnSync(process.execPath, ['-r', hook, join(ROOT, 'bin/run.js'), ...args], {encoding: 'utf8', env: {PATH: process.env.PATH ?? '/usr/bin:/bin'}, timeout: 60_000})
      expect(run.stdout, args.join(' ')).not.toBe('')
      expect(run.stderr, args.join(' ')).toMatch(/\nmodule jobs: 0\n$/)
    }
  })
})
