/**
 * Usage errors are exit 2 in every mode, never "findings" (1): every command
 * with a bad flag in every output format. With --json (or --format json) the
 * failure is the documented {"error": {"code", "message"}}, never oclif's
 * internal error object; otherwise one line on stderr, no stack trace.
 */
import {Config} from '@oclif/core'
import {execa} from 'execa'
import {join} from 'node:path'
import {afterEach, beforeAll, describe, expect, it, vi} from 'vitest'
import Bundle from '../src/commands/bundle.js'
import Diagnose from '../src/commands/diagnose.js'
import Fleet from '../src/commands/fleet.js'
import Ip from '../src/commands/ip.js'
import RulesIndex from '../src/commands/rules/index.js'
import RulesShow from '../src/commands/rules/show.js'
import Trace from '../src/commands/trace.js'
import {FORMATS} from '../reports/index.js'
import {EXIT} from '../src/core/errors.js'
import {argvWantsJson} from '../src/cli/failure.js'
import {SCHEMAS} from './schemas.js'
import {ROOT, kvmdoctorCli} from './helpers.js'

type CommandClass = {run(argv: string[], config: Config): Promise<unknown>}

/** Each command with the arguments it needs, and the output modes it has. */
const COMMANDS: {name: string; cls: CommandClass; args: string[]; modes: string[][]}[] = [
  {name: 'diagnose', cls: Diagnose, args: [], modes: [[], ['--json'], ...FORMATS.map((f) => ['--format', f])]},
  {name: 'ip', cls: Ip, args: [], modes: [[], ['--json']]},
  {name: 'trace', cls: Trace, args: ['web01'], modes: [[], ['--json']]},
  {name: 'rules', cls: RulesIndex, args: [], modes: [[], ['--json']]},
  // no --json of their own: asking for it is itself the bad flag, still answered in JSON
  {name: 'rules show', cls: RulesShow, args: ['link-down'], modes: [[], ['--json']]},
  {name: 'bundle', cls: Bundle, args: [], modes: [[], ['--json']]},
  {name: 'fleet', cls: Fleet, args: ['reports/'], modes: [[], ['--json'], ['--format', 'md'], ['--format', 'html'], ['--format', 'json']]},
]

let config: Config
beforeAll(async () => {
  config = await Config.load(ROOT)
})

afterEach(() => {
  process.exitCode = undefined
  vi.restoreAllMocks()
})

/** Runs a command class in process, as bin/run.js would, catching what it prints (oclif writes through console). */
async function runInProcess(cls: CommandClass, argv: string[]) {
  const out: string[] = []
  const err: string[] = []
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(`${a.join(' ')}\n`))
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(`${a.join(' ')}\n`))
  let thrown: unknown
  await cls.run(argv, config).catch((error: unknown) => (thrown = error))
  const code = process.exitCode
  vi.restoreAllMocks()
  process.exitCode = undefined
  return {code, stdout: out.join(''), stderr: err.join(''), thrown}
}

function expectUsageError(r: {code?: number | string; stdout: string; stderr: string; thrown?: unknown}, json: boolean, message: RegExp) {
  expect(r.thrown).toBeUndefined()
  expect(r.code).toBe(EXIT.usage)
  if (json) {
    const body = JSON.parse(r.stdout)
    expect(SCHEMAS.error(body), JSON.stringify(SCHEMAS.error.errors)).toBe(true)
    expect(body.error.code).toBe(EXIT.usage)
    expect(body.error.message).toMatch(message)
    expect(r.stdout).not.toMatch(/"oclif"|"parse"|"name"/)
  } else {
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(new RegExp(`^kvmdoctor: ${message.source}`))
    expect(r.stderr).not.toMatch(/\n\s+at /)
  }
}

describe('every command, every format: a bad flag is exit 2', () => {
  for (const c of COMMANDS) {
    for (const mode of c.modes) {
      const json = argvWantsJson(mode)
      it(`${c.name} ${[...mode, '--bogus'].join(' ')}`, async () => {
        expectUsageError(await runInProcess(c.cls, [...c.args, ...mode, '--bogus']), json, /Nonexistent flags?: (--json, )?--bogus/)
      })
    }
  }
})

describe('other usage errors, same contract', () => {
  it('a bad flag value (diagnose --fail-on severe --json)', async () => {
    expectUsageError(await runInProcess(Diagnose, ['--fail-on', 'severe', '--json']), true, /Expected --fail-on=severe to be one of/)
  })

  it('a missing argument (trace --json)', async () => {
    expectUsageError(await runInProcess(Trace, ['--json']), true, /Missing 1 required arg/)
  })

  it('flags that exclude each other (diagnose --from x --record y --format sarif)', async () => {
    expectUsageError(await runInProcess(Diagnose, ['--from', 'x', '--record', 'y', '--format', 'sarif']), false, /The following errors occurred/)
  })

  it('an unknown rule (rules show no-such-rule)', async () => {
    expectUsageError(await runInProcess(RulesShow, ['no-such-rule']), false, /unknown rule "no-such-rule"/)
  })

  it('bad input (diagnose --from a missing path --format json)', async () => {
    expectUsageError(await runInProcess(Diagnose, ['--from', '/nonexistent/snap', '--format', 'json']), true, /no such file or directory/)
  })
})

describe('the installed binary (bin/run.js)', () => {
  for (const c of COMMANDS) {
    it(`${c.name} --bogus --json: exit 2 and the documented error object`, async () => {
      const r = await kvmdoctorCli([...c.name.split(' '), ...c.args, '--bogus', '--json'])
      expectUsageError({code: r.exitCode, stdout: r.stdout + '\n', stderr: r.stderr}, true, /Nonexistent flags?: --bogus/)
    })
  }

  it('an unknown command is a usage error too, in JSON when asked', async () => {
    const r = await kvmdoctorCli(['diagnos', '--json'])
    expectUsageError({code: r.exitCode, stdout: r.stdout + '\n', stderr: r.stderr}, true, /"diagnos" is not a kvmdoctor command/)
  })

  it('an unknown command, as text', async () => {
    const r = await kvmdoctorCli(['diagnos'])
    expectUsageError({code: r.exitCode, stdout: r.stdout, stderr: r.stderr}, false, /"diagnos" is not a kvmdoctor command/)
  })
})

describe('--ssh: usage errors and an unreachable host are exit 2, never a stack trace', () => {
  for (const c of COMMANDS.filter((x) => ['diagnose', 'ip', 'trace'].includes(x.name))) {
    it(`${c.name} --ssh with --from`, async () => {
      expectUsageError(await runInProcess(c.cls, [...c.args, '--ssh', 'root@hv1', '--from', 'snap', '--json']), true, /--from=snap cannot also be provided when using --ssh/)
    })
  }

  it('--ssh-option without --ssh, a destination that is an option, an option kvmdoctor sets', async () => {
    expectUsageError(await runInProcess(Ip, ['--ssh-option', 'Port=2222']), false, /The following error occurred: All of the following must be provided when using --ssh-option: --ssh/)
    // oclif itself takes a value starting with - for a missing one; checkSshTarget refuses it too (test/core/ssh-runner.test.ts).
    expectUsageError(await runInProcess(Diagnose, ['--ssh=-oProxyCommand=touch /tmp/x', '--json']), true, /Flag --ssh expects a value/)
    expectUsageError(await runInProcess(Bundle, ['--ssh', 'hv1', '--ssh-option', 'ControlPath=/tmp/x']), false, /--ssh-option ControlPath: kvmdoctor sets this option itself/)
  })

  // The stand-in ssh (test/data/fake-ssh) first on PATH plays an unreachable host and a refused key.
  const withFakeSsh = (args: string[]) =>
    execa(process.execPath, [join(ROOT, 'bin/run.js'), ...args], {reject: false, stdin: 'ignore', env: {NO_COLOR: '1', PATH: `${join(ROOT, 'test/data/fake-ssh')}:${process.env.PATH}`}})

  for (const [args, message] of [
    [['diagnose', '--ssh', 'root@refused.test', '--json'], /cannot connect to root@refused\.test over ssh: ssh: connect to host refused\.test port 22: Connection refused/],
    [['trace', 'web01', '--ssh', 'root@denied.test', '--json'], /Permission denied \(publickey\)\..*never asks for a password/],
    [['ip', '--ssh', 'refused.test', '--json'], /cannot connect to refused\.test over ssh/],
  ] as const) {
    it(`${args.join(' ')}`, async () => {
      const r = await withFakeSsh([...args])
      expectUsageError({code: r.exitCode, stdout: r.stdout + '\n', stderr: r.stderr}, true, message)
    })
  }

  it('as text: one line on stderr (bundle, which has no JSON output)', async () => {
    const r = await withFakeSsh(['bundle', '--ssh', 'root@refused.test', '-o', '/nonexistent/b.tar.gz'])
    expectUsageError({code: r.exitCode, stdout: r.stdout, stderr: r.stderr}, false, /cannot connect to root@refused\.test over ssh/)
  })
})
