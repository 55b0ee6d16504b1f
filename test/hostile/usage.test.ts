/**
 * Item 7: bad input is a usage error (exit 2, one clear line, no stack trace), and host data
 * cannot drive the terminal.
 */
import {chmod, cp, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {describeReadError} from '../../src/core/budget.js'
import {UserError} from '../../src/core/errors.js'
import {describeFailure} from '../../src/cli/failure.js'
import {loadIgnoreFile} from '../../src/core/ignore.js'
import {visibleControls} from '../../src/core/output.js'
import {fixtureDir} from '../helpers.js'
import {cli, renamedRecording, scratch} from './helpers.js'

const oneLine = (r: {stderr: string}) => {
  expect(r.stderr.trim().split('\n')).toHaveLength(1)
  expect(r.stderr).not.toMatch(/\n\s+at |internal error/)
}

/** The logs name the guest dozens of times: renamed there, a long name overruns the file budget (or a string) first. */
const LOGS_KEPT = {keepOutputs: /journalctl|libvirtd\.log/}

describe('usage errors', () => {
  it('a YAML alias bomb as --ignore: exit 2 with one line, not an internal error', async () => {
    const file = join(await scratch(), 'ignore.yaml')
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for (let i = 1; i < 10; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`)
    await writeFile(file, `${lines.join('\n')}\nignore: []\n`)
    const r = await cli(['diagnose', '--from', fixtureDir('healthy'), '--ignore', file])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/^kvmdoctor: ignore file .*ignore\.yaml: Excessive alias count/)
    oneLine(r)
  })

  it('a 50 MB guest name with --format json: exit 2 with the JSON error object, not a RangeError', async () => {
    const dir = await renamedRecording('healthy', {'kdlab-web01': 'w'.repeat(50 * 1024 * 1024)}, LOGS_KEPT)
    const r = await cli(['diagnose', '--from', dir, '--format', 'json'])
    expect(r.exitCode).toBe(2)
    expect(JSON.parse(r.stdout).error.message).toMatch(/(over the \d+ MiB limit$|a domain name of \d+ characters)/)
  })

  it('a guest name of 1 MB, within the file budgets: still refused as a name, exit 2', async () => {
    const dir = await renamedRecording('healthy', {'kdlab-web01': 'w'.repeat(1024 * 1024)}, LOGS_KEPT)
    const r = await cli(['diagnose', '--from', dir, '--format', 'text'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/^kvmdoctor: the input holds a (domain|interface) name of 1048576 characters \(the limit is 4096\)/)
    oneLine(r)
  })

  it('a bad flag value: one line, exit 2', async () => {
    const r = await cli(['diagnose', '--deadline', '0'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toBe('kvmdoctor: Parsing --deadline: Expected an integer greater than or equal to 1 but received: 0 (see --help)')
  })

  it('a usage error under --json: the JSON error object with code 2, exit 2 (not 1, which means findings)', async () => {
    const r = await cli(['diagnose', '--json', '--format', 'yaml'])
    expect(r.exitCode).toBe(2)
    expect(JSON.parse(r.stdout)).toEqual({error: {code: 2, message: 'Expected --format=yaml to be one of: text, md, html, json, sarif, junit, prometheus'}})
  })

  it('a value too large for a string is bad input, exit 2', () => {
    expect(describeFailure(new RangeError('Invalid string length'))).toMatchObject({code: 2, message: expect.stringMatching(/too large to report/)})
  })

  it('--from "" does not run live: exit 2', async () => {
    const r = await cli(['diagnose', '--from', ''], {bin: '/nonexistent'})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toBe('kvmdoctor: --from needs a value, got an empty string')
  })

  it('an expiry date that does not exist is refused, naming the line', async () => {
    const file = join(await scratch(), 'ignore.yaml')
    await writeFile(file, 'ignore:\n  - rule: link-down\n    reason: accepted for now\n    expires: 2026-99-99\n')
    const error = await loadIgnoreFile(file, new Set(['link-down'])).then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(UserError)
    expect((error as Error).message).toMatch(/line 4 \(ignore\.0\.expires\): expires must be a date like 2027-01-31/)
    await writeFile(file, 'ignore:\n  - rule: link-down\n    reason: accepted for now\n    expires: 2027-02-29\n')
    await expect(loadIgnoreFile(file, new Set(['link-down']))).rejects.toThrow(/expires must be a date/)
    await writeFile(file, 'ignore:\n  - rule: link-down\n    reason: accepted for now\n    expires: 2028-02-29\n')
    expect(await loadIgnoreFile(file, new Set(['link-down']))).toHaveLength(1)
  })
})

describe('unreadable and oversized inputs say so, not "missing"', () => {
  it('an output the user cannot read: permission denied (run as nobody)', async () => {
    const dir = join(await scratch(), 'snap')
    await cp(fixtureDir('healthy'), dir, {recursive: true})
    await chmod(join(dir, '..'), 0o755)
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'))
    const locked = manifest.captures[0].file
    await chmod(join(dir, locked), 0o600)
    const r = await cli(['diagnose', '--from', dir], {env: {HOME: '/tmp'}, uid: 65534})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toBe(`kvmdoctor: ${dir}: ${locked}: permission denied`)
  })

  it('errno codes become plain words', () => {
    expect(describeReadError('x', {code: 'EACCES'})).toBe('x: permission denied')
    expect(describeReadError('x', {code: 'ENOENT'})).toBe('x: no such file')
    expect(describeReadError('x', {code: 'ELOOP'})).toMatch(/symbolic link/)
  })
})

describe('host strings on a terminal', () => {
  it('escape sequences in a guest name are shown, not obeyed', async () => {
    const evil = 'web\u001b]0;pwned\u0007\u001b[2J\u009b1m'
    const dir = await renamedRecording('healthy', {'kdlab-web01': evil})
    const r = await cli(['diagnose', '--from', dir, '--format', 'text', '--allow-unchecked'])
    expect(r.exitCode).toBe(0)
    expect(r.stdout).not.toMatch(/[\u001b\u0007\u009b]/)
    expect(r.stdout).toContain('web\\x1b]0;pwned\\x07\\x1b[2J\\x9b1m')
  })

  it('controls, DEL, C1, line breaks and bidi overrides become visible escapes; tab stays', () => {
    expect(visibleControls('a\u001b[31mb\tc\nd\u009be\u202ef\u007f')).toBe('a\\x1b[31mb\tc\\nd\\x9be\\u202ef\\x7f')
  })
})
