/**
 * The SSH runner against a stand-in ssh client (test/data/fake-ssh/ssh) whose "remote" is this
 * host through `sh -c`, as sshd runs a command through the login shell: what the runner sends
 * must come out the other side as the very argv it was given, whatever the words hold. The
 * real OpenSSH client and server are exercised by the fleet lab (test/lab/fleet.test.ts).
 */
import {execa} from 'execa'
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {mkdir, mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {UserError} from '../../src/core/errors.js'
import {SshRunner, checkSshTarget, destinationHost} from '../../src/core/ssh-runner.js'
import {shellCommand, shellQuote} from '../../src/lib/shell.js'
import type {CommandCapture} from '../../src/lib/runner.js'
import {ROOT} from '../helpers.js'

const FAKE_SSH = join(ROOT, 'test/data/fake-ssh/ssh')

/** Words a shell would otherwise expand, split, glob, redirect or read as options. */
const HOSTILE = [
  '',
  ' ',
  "'",
  "''",
  `'\\''`,
  '"',
  '$(touch PWNED)',
  '`touch PWNED`',
  '$HOME',
  '${IFS}',
  '\\',
  '\\n',
  'a\nb',
  '\n',
  '\t',
  '*',
  '?',
  '[a-z]',
  '~',
  '!',
  '!!',
  ';',
  '&& touch PWNED',
  '| touch PWNED',
  '> PWNED',
  '-n',
  '--',
  '-e',
  '#',
  '%s',
  'vnet0; rm -rf /',
  "web01'; touch PWNED; echo '",
  'ünïcødé ✓ \u202e',
  '\u0001\u001b[31m',
]

/** Seeded, so a failure can be replayed: random words over the characters shells care about. */
function randomWords(count: number, seed = 7): string[] {
  const alphabet = ` \t\n'"\\$\`*?[]{}()<>|&;!#~=%^-_.,:/aZ9é✓`
  let s = seed
  const next = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  return Array.from({length: count}, () => Array.from({length: 1 + Math.floor(next() * 12)}, () => alphabet[Math.floor(next() * alphabet.length)]).join(''))
}

describe('shellQuote', () => {
  const words = [...HOSTILE, ...randomWords(300)]

  for (const shell of ['sh', 'bash']) {
    it(`each word comes out of ${shell} -c exactly as it went in, and nothing runs`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'kd-quote-'))
      // printf prints each argument between markers: argv in, argv out.
      const r = await execa(shell, ['-c', shellCommand(['printf', '<%s>', ...words])], {cwd: dir, stdin: 'ignore'})
      expect(r.stdout).toBe(words.map((w) => `<${w}>`).join(''))
      expect(existsSync(join(dir, 'PWNED'))).toBe(false)
    })
  }

  it('is single quotes with the quote itself escaped, and refuses NUL', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`)
    expect(shellQuote('')).toBe("''")
    expect(() => shellQuote('a\u0000b')).toThrow(/NUL/)
    expect(() => shellCommand([])).toThrow(/empty/)
  })
})

describe('ssh targets', () => {
  it('refuses destinations and options ssh would read as something else', () => {
    for (const destination of ['', '-oProxyCommand=touch x', 'host name', 'a\nb', '--']) expect(() => checkSshTarget({destination}), destination).toThrow(UserError)
    expect(() => checkSshTarget({destination: 'h', options: ['ControlPath=/tmp/x']})).toThrow(/sets this option itself/)
    expect(() => checkSshTarget({destination: 'h', options: ['forwardagent=yes']})).toThrow(/sets this option itself/)
    expect(() => checkSshTarget({destination: 'h', options: ['-oPort=2']})).toThrow(/KEY=VALUE/)
    expect(() => checkSshTarget({destination: 'h', options: ['Port=2\nProxyCommand=x']})).toThrow(/KEY=VALUE/)
    expect(() => checkSshTarget({destination: 'root@hv1.example.com', options: ['Port=2222', 'IdentityFile /k', 'ProxyJump=bastion']})).not.toThrow()
  })

  it('names the host of a destination', () => {
    expect(destinationHost('root@hv1')).toBe('hv1')
    expect(destinationHost('hv1')).toBe('hv1')
    expect(destinationHost('ssh://admin@[2001:db8::1]:2222')).toBe('2001:db8::1')
    expect(destinationHost('ssh://hv2:22')).toBe('hv2')
  })
})

describe('SshRunner (stand-in ssh)', () => {
  let work: string
  let log: string
  let runner: SshRunner
  const open = (destination: string, extra: Partial<Parameters<typeof SshRunner.open>[0]> = {}) => SshRunner.open({destination, ssh: FAKE_SSH, timeoutMs: 3000, ...extra})

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kd-ssh-'))
    log = join(work, 'argv.log')
    process.env.FAKE_SSH_LOG = log
    runner = await open('root@hv1.test', {options: ['Port=2222']})
  })
  afterAll(async () => {
    await runner?.close()
    delete process.env.FAKE_SSH_LOG
  })

  it('runs argv there exactly, hostile words included, with LC_ALL=C', async () => {
    const words = [...HOSTILE, ...randomWords(40, 11)]
    const c = await runner.run(['printf', '<%s>', ...words])
    expect(c).toMatchObject({kind: 'command', argv: ['printf', '<%s>', ...words], exitCode: 0, timedOut: false})
    expect(c.error).toBeUndefined()
    expect(c.output).toBe(words.map((w) => `<${w}>`).join(''))
    expect((await runner.run(['sh', '-c', 'echo $LC_ALL'])).output).toBe('C\n')
  })

  it('opens one connection with batch mode and no forwarding, the user options after its own, the destination after --', () => {
    const calls = readFileSync(log, 'utf8').trim().split('\n')
    const masters = calls.filter((l) => / -M /.test(l))
    expect(masters).toHaveLength(1)
    const master = masters[0]
    for (const o of ['BatchMode=yes', 'ControlPersist=no', 'ClearAllForwardings=yes', '-a', '-x', '-T', '-N']) expect(master).toContain(o)
    expect(master.indexOf('BatchMode=yes')).toBeLessThan(master.indexOf('Port=2222'))
    expect(master).toMatch(/ -- root@hv1\.test$/)
    // Sessions go through the master only: should it be gone, they fail instead of connecting on their own.
    const sessions = calls.filter((l) => !/ -M /.test(l))
    expect(sessions.length).toBeGreaterThan(0)
    for (const s of sessions) {
      expect(s).toMatch(/ControlMaster=no .*ProxyCommand=false .*-- root@hv1\.test exec 'env' 'LC_ALL=C' 'LANG=C' 'timeout' /)
      expect(s).not.toContain('Port=2222')
    }
  })

  it('reads files whole, capped, or their tail from a line boundary; a missing one is not-found', async () => {
    const file = join(work, "it's $(odd) name")
    await writeFile(file, 'alpha\nbeta\n')
    expect(await runner.readFile(file)).toMatchObject({kind: 'file', path: file, output: 'alpha\nbeta\n', truncated: false})
    const log = join(work, 'libvirtd.log')
    await writeFile(log, Array.from({length: 200}, (_, i) => `line ${i}`).join('\n') + '\n')
    const tail = await runner.readFile(log, {tailBytes: 30})
    expect(tail.truncated).toBe(true)
    expect(tail.output.startsWith('line 1')).toBe(true)
    expect(tail.output.endsWith('line 199\n')).toBe(true)
    expect(tail.output.length).toBeLessThanOrEqual(30)
    expect(await runner.readFile(log, {tailBytes: 1_000_000})).toMatchObject({truncated: false, output: readFileSync(log, 'utf8')})
    expect(await runner.readFile(join(work, 'missing'))).toMatchObject({errorCode: 'not-found', error: `${join(work, 'missing')}: no such file or directory`})
    expect(await runner.readFile(work)).toMatchObject({errorCode: 'failed', error: `${work}: not a regular file`})
    const small = await open('hv1.test', {maxOutputBytes: 1000})
    try {
      await writeFile(join(work, 'big'), 'x'.repeat(5000))
      expect(await small.readFile(join(work, 'big'))).toMatchObject({truncated: true, errorCode: 'too-large', output: 'x'.repeat(1000)})
    } finally {
      await small.close()
    }
  })

  it('reads the files asked for at once in one session, each as a read on its own would give it', async () => {
    const dir = join(work, 'batch')
    await mkdir(dir)
    const files: Record<string, string> = {
      plain: 'net.ipv4.ip_forward = 1\n',
      empty: '',
      "it's\nnew $(line)": 'hostile name\n',
      // A file that holds what looks like the framing cannot break it: the mark is random per batch.
      framing: 'kvmdoctor-0123 start\n\nkvmdoctor-0123 ok\n',
      'no-newline': 'x',
    }
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text)
    execFileSync('mkfifo', [join(dir, 'fifo')])
    const paths = [...Object.keys(files).map((n) => join(dir, n)), join(dir, 'missing'), dir, join(dir, 'fifo')]
    const sessionsBefore = readFileSync(log, 'utf8').split('\n').length
    const read = await Promise.all(paths.map((p) => runner.readFile(p)))
    expect(readFileSync(log, 'utf8').split('\n').length - sessionsBefore).toBe(1)
    for (const [i, name] of Object.keys(files).entries()) expect(read[i], name).toMatchObject({kind: 'file', path: paths[i], output: files[name], truncated: false})
    for (const c of read.slice(0, 5)) expect(c.error).toBeUndefined()
    expect(read.slice(5).map((c) => [c.error, c.errorCode])).toEqual([
      [`${join(dir, 'missing')}: no such file or directory`, 'not-found'],
      [`${dir}: not a regular file`, 'failed'],
      [`${join(dir, 'fifo')}: not a regular file`, 'failed'],
    ])
  })

  it('reads again on its own what a batch cut at the cap did not deliver whole', async () => {
    const small = await open('hv1.test', {maxOutputBytes: 1000})
    try {
      const dir = join(work, 'cut')
      await mkdir(dir)
      const texts = ['a', 'b', 'c'].map((x) => x.repeat(600))
      for (const [i, t] of texts.entries()) await writeFile(join(dir, String(i)), t)
      const read = await Promise.all(texts.map((_, i) => small.readFile(join(dir, String(i)))))
      expect(read.map((c) => c.output)).toEqual(texts)
      for (const c of read) expect(c.error).toBeUndefined()
    } finally {
      await small.close()
    }
  })

  it('runs the commands asked for at once in one session, each as a session of its own would give it', async () => {
    const words = [...HOSTILE, ...randomWords(20, 5)]
    const commands: {argv: string[]; options?: {timeoutMs: number}}[] = [
      {argv: ['printf', '<%s>', ...words]},
      {argv: ['printf', '%s', 'no newline at the end']},
      // What looks like the framing cannot break it: the mark is random per batch.
      {argv: ['printf', 'kvmdoctor-0123 start\n\nkvmdoctor-0123 err\nx\nkvmdoctor-0123 end 0\n']},
      {argv: ['sh', '-c', 'echo out; echo "err $1" >&2; printf "\n\n" >&2; exit 3', 'sh', "a'b $(c)"]},
      {argv: ['true']},
      {argv: ['kvmdoctor-no-such-tool', '-x']},
      {argv: ['sh', '-c', 'echo $LC_ALL $LANG; cat']},
      {argv: ['sleep', '30'], options: {timeoutMs: 500}},
    ]
    const alone: CommandCapture[] = []
    for (const c of commands) alone.push(await runner.run(c.argv, c.options))
    const sessionsBefore = readFileSync(log, 'utf8').split('\n').length
    const together = await Promise.all(commands.map((c) => runner.run(c.argv, c.options)))
    expect(readFileSync(log, 'utf8').split('\n').length - sessionsBefore).toBe(1)
    const facts = (c: CommandCapture) => ({argv: c.argv, output: c.output, stderr: c.stderr, exitCode: c.exitCode, error: c.error, errorCode: c.errorCode, timedOut: c.timedOut, truncated: c.truncated})
    expect(together.map(facts)).toEqual(alone.map(facts))
    expect(together[0].output).toBe(words.map((w) => `<${w}>`).join(''))
    expect(together[3]).toMatchObject({output: 'out\n', stderr: "err a'b $(c)\n\n\n", exitCode: 3, errorCode: 'exit-status'})
    expect(together[6].output).toBe('C C\n')
    expect(together[7]).toMatchObject({timedOut: true, errorCode: 'timeout'})
    expect(existsSync(join(process.cwd(), 'PWNED'))).toBe(false)
  })

  it('spreads more commands than a session runs over several, and runs again on its own what a batch cut at the cap did not deliver', async () => {
    const many = Array.from({length: 20}, (_, i) => ['printf', '%s', `command ${i}`])
    const sessionsBefore = readFileSync(log, 'utf8').split('\n').length
    expect((await Promise.all(many.map((argv) => runner.run(argv)))).map((c) => c.output)).toEqual(many.map((argv) => argv[2]))
    expect(readFileSync(log, 'utf8').split('\n').length - sessionsBefore).toBe(3)
    const small = await open('hv1.test', {maxOutputBytes: 1000})
    try {
      const texts = ['a', 'b', 'c'].map((x) => x.repeat(600))
      const ran = await Promise.all(texts.map((t) => small.run(['printf', '%s', t])))
      expect(ran.map((c) => c.output)).toEqual(texts)
      for (const c of ran) expect(c.error).toBeUndefined()
      const tooLarge = await Promise.all([small.run(['printf', '%s', 'x'.repeat(1500)]), small.run(['true'])])
      expect(tooLarge[0]).toMatchObject({errorCode: 'too-large', truncated: true, output: 'x'.repeat(1000)})
      expect(tooLarge[1].error).toBeUndefined()
    } finally {
      await small.close()
    }
  })

  it('lists a directory sorted; a file or a missing path is an error', async () => {
    const dir = join(work, 'leases')
    await mkdir(dir)
    for (const name of ['virbr1.status', 'default.conf', '-dash', "q'uote"]) await writeFile(join(dir, name), '')
    expect(await runner.listDir(dir)).toMatchObject({kind: 'dir', output: ['-dash', 'default.conf', "q'uote", 'virbr1.status'].sort().join('\n')})
    expect(await runner.listDir(join(work, 'nope'))).toMatchObject({errorCode: 'not-found'})
    expect(await runner.listDir(join(dir, 'default.conf'))).toMatchObject({errorCode: 'failed', error: `${join(dir, 'default.conf')}: not a directory`})
  })

  it('says a remote tool is missing there (not-found), a remote exit and a remote timeout', async () => {
    expect(await runner.run(['kvmdoctor-no-such-tool', '-x'])).toMatchObject({errorCode: 'not-found', error: 'kvmdoctor-no-such-tool: command not found on hv1.test'})
    const failed = await runner.run(['ls', join(work, 'nope')])
    expect(failed).toMatchObject({errorCode: 'exit-status', exitCode: 2})
    expect(failed.error).toMatch(/No such file.*\(on hv1\.test\)$/)
    const slow = await runner.run(['sleep', '30'], {timeoutMs: 500})
    expect(slow).toMatchObject({timedOut: true, errorCode: 'timeout', error: 'sleep 30: timed out after 500 ms on hv1.test'})
    expect(slow.durationMs).toBeLessThan(10_000)
  })

  it('ends a listen at its time as its normal end', async () => {
    const c = await runner.run(['sh', '-c', 'echo heard; exec sleep 30'], {listenMs: 700})
    expect(c).toMatchObject({output: 'heard\n', timedOut: false})
    expect(c.error).toBeUndefined()
  })

  it('keeps the facts on the host they came from: origin and capture time', () => {
    expect(runner.origin).toBe('hv1.test')
    expect(runner.capturedAt).toBeInstanceOf(Date)
  })

  it('refuses an unreachable host, a failed authentication, a foreign shell and missing tools, clearly', async () => {
    await expect(open('root@refused.test')).rejects.toThrow(/^cannot connect to root@refused\.test over ssh: ssh: connect to host refused\.test port 22: Connection refused$/)
    await expect(open('root@denied.test')).rejects.toThrow(/Permission denied \(publickey\)\. \(kvmdoctor runs ssh in batch mode: it needs a key or an agent/)
    await expect(open('cshell.test')).rejects.toThrow(/login shell changed a quoted word/)
    await expect(open('notimeout.test')).rejects.toThrow(/env\(1\) or timeout\(1\) is missing there/)
    await expect(open('hv.test', {ssh: join(work, 'no-such-ssh')})).rejects.toThrow(/command not found \(--ssh needs the OpenSSH client\)/)
    for (const e of await Promise.allSettled([open('root@refused.test')])) expect(e.status === 'rejected' && e.reason instanceof UserError).toBe(true)
  })

  it('removes its control directory on close; a session after the connection is gone fails, it does not reconnect', async () => {
    const r = await open('slow.test')
    const control = (r as unknown as {controlPath: string}).controlPath
    expect(existsSync(control)).toBe(true)
    await r.close()
    expect(existsSync(dirname(control))).toBe(false)
    const after = await r.run(['true'])
    expect(after.errorCode).toBe('failed')
    expect(after.error).toMatch(/^true: the ssh connection to slow\.test failed/)
  })
})
