/** bin/run.js answers --version itself (oclif is the CLI's largest chunk): the same line oclif prints. */
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
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
})
