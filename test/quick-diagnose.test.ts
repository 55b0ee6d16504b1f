/** A plain diagnose (live or --from) runs without oclif (src/cli/quick-diagnose.ts): only argv it reads exactly as oclif would. */
import {Parser} from '@oclif/core'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import Diagnose from '../src/commands/diagnose.js'
import {ANALYSIS_FLAGS} from '../src/cli/early.js'
import {quickFlags} from '../src/cli/quick-diagnose.js'
import {ROOT, fixtureDir, kvmdoctorCli} from './helpers.js'

const oclifParse = async (argv: string[]) => {
  const {flags, argv: rest} = await Parser.parse(argv, {flags: {...Diagnose.baseFlags, ...Diagnose.flags}, args: Diagnose.args, strict: false})
  return {flags, guests: rest}
}

/** Each analysis flag given once with a value oclif takes (its first option, or a word). */
function everyAnalysisFlag(): string[][] {
  const flags = Diagnose.flags as Record<string, {type: string; options?: readonly string[]; char?: string}>
  const argvs: string[][] = []
  for (const name of [...ANALYSIS_FLAGS.valued, ...ANALYSIS_FLAGS.boolean]) {
    const flag = flags[name]
    if (flag === undefined || name === 'json') continue
    if (flag.type === 'boolean') argvs.push([`--${name}`])
    else argvs.push([`--${name}`, flag.options?.[1] ?? 'web01:80/tcp'], [`--${name}=${flag.options?.[0] ?? 'x.yaml'}`])
    if (flag.char) argvs.push([`-${flag.char}`, flag.options?.[2] ?? 'report.out'])
  }
  return argvs
}

describe('quick diagnose', () => {
  it('reads every argv it takes as oclif does: the same flags with their defaults, the same guests', async () => {
    const argvs = [
      [],
      ['--format', 'json', '--fail-on', 'none'],
      ['web01', '--format=sarif', '-o', 'r.sarif', 'db01', '--checks', '--no-color'],
      ['--publish', 'web01:80/tcp', '--publish=db01:5432/tcp', '--show-suppressed', '--allow-unchecked', '--color'],
      ['--ignore', 'i.yaml', '--expect', 'e.yaml', '-f', 'md'],
      ['--from', 'snap', '--format', 'json', '--fail-on', 'none'],
      ['web01', '--from=ticket.tar.gz', '--checks'],
      ['--ssh', 'root@hv1', '--ssh-option', 'Port=2222', '--ssh-option=IdentityFile=/k', '--format', 'json'],
      ['web01', '--ssh=hv1', '--ssh-option', 'Port=2222', '--checks'],
      ...everyAnalysisFlag(),
    ]
    for (const argv of argvs) {
      const quick = quickFlags(['diagnose', ...argv])
      expect(quick, argv.join(' ')).toBeDefined()
      expect({flags: quick!.flags, guests: quick!.guests}, argv.join(' ')).toEqual(await oclifParse(argv))
      expect(quick!.commandArgv).toEqual(argv)
    }
    // A bare kvmdoctor, or one with only flags, is diagnose.
    expect(quickFlags(['--format', 'json'])?.flags.format).toBe('json')
  })

  it('leaves to oclif every argv it might read otherwise', () => {
    for (const argv of [
      ['--json'],
      ['--format', 'bogus'],
      ['--fail-on', 'severe'],
      ['--format', 'json', '--format', 'text'],
      ['--color', '--no-color'],
      ['--checks=yes'],
      ['--output='],
      ['--output', '-'],
      ['-o'],
      ['-fjson'],
      ['--', 'web01'],
      ['-'],
      ['--from', 'a', '--from', 'b'],
      ['--from', 'snap', '--record', 'x'],
      ['--from', 'snap', '--active'],
      ['--from', 'snap', '--ssh', 'h'],
      ['--ssh', 'h', '--from', 'snap'],
      ['--ssh', 'h', '--ssh', 'g'],
      ['--ssh-option', 'Port=2222'],
      // oclif reads a word after a repeatable flag as one more of its values, not as a guest.
      ['--ssh', 'h', '--ssh-option', 'Port=2222', 'web01'],
      ['--publish', 'web01:80/tcp', 'web01'],
      ['--publish', 'web01:80/tcp', '--checks', 'web01'],
      ['--from', 'snap', '--listen', '5'],
      ['--from='],
      ['--from', '-'],
      ['--timeout', '5'],
      ['--help'],
      ['--formats', 'json'],
    ]) {
      expect(quickFlags(['diagnose', ...argv]), argv.join(' ')).toBeUndefined()
    }
    expect(quickFlags(['ip'])).toBeUndefined()
  })

  it('fails as the command under oclif fails: the same output and exit code', async () => {
    // DEBUG (here matching nothing) leaves the run to oclif.
    for (const argv of [
      ['diagnose', '--ignore', '/nonexistent/kd-ignore.yaml', '--format', 'json'],
      ['--ignore', '/nonexistent/kd-ignore.yaml'],
      ['diagnose', '-o', '/nonexistent/dir/report.html', '--format', 'html'],
      ['diagnose', '--from', '/nonexistent/kd-snapshot'],
      // Over SSH (the stand-in client on PATH): a host that refuses the connection.
      ['diagnose', '--ssh', 'root@refused.test', '--ssh-option', 'Port=2222', '--format', 'json'],
    ]) {
      const env = {PATH: `${join(ROOT, 'test/data/fake-ssh')}:${process.env.PATH}`}
      const quick = await kvmdoctorCli(argv, undefined, env)
      const full = await kvmdoctorCli(argv, undefined, {...env, DEBUG: 'kd-test-nothing'})
      expect(quick.exitCode, argv.join(' ')).toBe(2)
      expect({stdout: quick.stdout, stderr: quick.stderr, exitCode: quick.exitCode}, argv.join(' ')).toEqual({stdout: full.stdout, stderr: full.stderr, exitCode: full.exitCode})
    }
  }, 60_000)

  it('diagnoses a snapshot as the command under oclif does: the same report and exit code', async () => {
    for (const argv of [
      ['diagnose', '--from', fixtureDir('bridged-healthy'), '--format', 'json', '--fail-on', 'none'],
      ['--from', fixtureDir('firewall-flushed'), 'no-such-guest'],
      ['diagnose', '--from', fixtureDir('firewall-flushed'), '--checks'],
    ]) {
      const quick = await kvmdoctorCli(argv)
      const full = await kvmdoctorCli(argv, undefined, {DEBUG: 'kd-test-nothing'})
      expect(quick.stdout + quick.stderr, argv.join(' ')).not.toBe('')
      expect({stdout: quick.stdout, stderr: quick.stderr, exitCode: quick.exitCode}, argv.join(' ')).toEqual({stdout: full.stdout, stderr: full.stderr, exitCode: full.exitCode})
    }
  }, 60_000)
})
