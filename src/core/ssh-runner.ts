/**
 * Probing another host over SSH, with nothing of kvmdoctor installed there: the same probes
 * read through this runner, and the analysis stays here. One multiplexed connection (the
 * system's OpenSSH client as a ControlMaster, its socket in a private 0700 directory) carries
 * every read as its own session, so a run costs one handshake.
 *
 * Nothing sent to the remote shell is built from host data: every command is argv, each word
 * quoted for a POSIX shell (src/lib/shell.ts), run through env(1) for LC_ALL=C and timeout(1),
 * so a command that hangs there is stopped there. The commands asked for at once share a few sessions:
 * one fixed sh script (RUN_SCRIPT) runs them one after another, each under its own timeout(1), their
 * argv its arguments. Files are read with `head -c` (the reads asked for at once through one fixed sh
 * script, the paths its arguments) or `tail -c`, directories listed with `ls`, each capped like a local
 * read. Local processes (the ssh clients) get the live runner's process groups, timeouts, size caps and
 * deadline.
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {formatBytes} from './budget.js'
import {UserError} from './errors.js'
import {onExit, privateTempDir} from './lifecycle.js'
import {DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_TIMEOUT_MS, LiveRunner, killGroup} from './live-runner.js'
import {shellCommand} from '../lib/shell.js'
import type {CommandCapture, DirCapture, FileCapture, ReadOptions, RunOptions, Runner} from '../lib/runner.js'

export interface SshTarget {
  /** [USER@]HOST, an ssh_config alias, or ssh://[USER@]HOST[:PORT]. */
  destination: string
  /** ssh -o options (KEY=VALUE) for the connection: Port, IdentityFile, ProxyJump, UserKnownHostsFile... */
  options?: string[]
}

export interface SshRunnerOptions extends SshTarget {
  timeoutMs?: number
  maxOutputBytes?: number
  /** Whole-run budget from now (--deadline). */
  deadlineMs?: number
  /** The ssh client (tests put a stand-in here). */
  ssh?: string
}

/** Options kvmdoctor sets itself: the connection's shape depends on them, so --ssh-option may not change them. */
const RESERVED_OPTIONS = new Set(
  ['ControlMaster', 'ControlPath', 'ControlPersist', 'BatchMode', 'RemoteCommand', 'RequestTTY', 'SessionType', 'StdinNull', 'ForkAfterAuthentication', 'ForwardAgent', 'ForwardX11', 'ClearAllForwardings'].map((o) => o.toLowerCase()),
)
/** Sessions at once: below sshd's default MaxSessions (10) on one connection, listens included. */
const COMMAND_SESSIONS = 6
/**
 * Commands one batch session runs at most, one after another. A session costs a local ssh client, a channel,
 * the remote login shell and env(1) (some 20 ms of CPU on either side, where the reads themselves take a
 * few): a run's first twenty-odd reads go in three sessions instead of twenty. Few enough that a command
 * hanging until its timeout holds up only a handful of others.
 */
const COMMANDS_PER_SESSION = 8
/** Characters of quoted words one batch's command line holds at most: the remote shell takes it as one argument (Linux's MAX_ARG_STRLEN is 128 KiB). */
const BATCH_COMMAND_LINE = 64 * 1024
const LISTEN_SESSIONS = 3
/** What session set-up (the remote login shell, a loaded host) and the network may add to a remote command's own timeout before its local client is stopped. */
const NETWORK_MARGIN_MS = 15_000
/** Seconds timeout(1) waits after its TERM before it KILLs. */
const KILL_AFTER_S = 1
const CONNECT_TIMEOUT_S = 10
/** Beyond the TCP connect: key exchange and authentication. */
const AUTH_WAIT_MS = 20_000
const CHECK_TEXT = `kvmdoctor 'ssh' "check" $HOME \`id\` * \\ ;`

/** The message ssh's own failure carries: its last line (the ones before are warnings). */
function sshMessage(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '')
  return lines.at(-1)?.slice(0, 500) ?? 'ssh exited without a message'
}

/** What to add to ssh's words so the user knows what to do. */
function connectHint(message: string): string {
  if (/Permission denied|Too many authentication failures/i.test(message)) return ' (kvmdoctor runs ssh in batch mode: it needs a key or an agent, it never asks for a password)'
  if (/Host key verification failed|host key is known|REMOTE HOST IDENTIFICATION HAS CHANGED|No .* host key is known/i.test(message)) return " (the host's key must already be in known_hosts: connect once with ssh, or pass --ssh-option UserKnownHostsFile=FILE)"
  return ''
}

/** Refuses a destination or an option ssh would read as something else (an option, a second word). */
export function checkSshTarget(target: SshTarget): void {
  const d = target.destination
  if (d.trim() === '') throw new UserError('--ssh needs [USER@]HOST, got an empty string')
  if (d.startsWith('-')) throw new UserError(`--ssh ${d}: a destination cannot start with "-"`)
  if (/[\s\u0000-\u001f\u007f]/.test(d)) throw new UserError(`--ssh ${JSON.stringify(d)}: a destination holds no spaces or control characters`)
  for (const option of target.options ?? []) {
    const m = /^([A-Za-z][A-Za-z0-9]*)(?:=|\s+)(\S.*)$/.exec(option)
    if (!m || /[\u0000-\u001f\u007f]/.test(option)) throw new UserError(`--ssh-option ${JSON.stringify(option)}: expected KEY=VALUE (an ssh_config option, e.g. Port=2222)`)
    if (RESERVED_OPTIONS.has(m[1].toLowerCase())) throw new UserError(`--ssh-option ${m[1]}: kvmdoctor sets this option itself (one multiplexed connection in batch mode, no forwarding)`)
  }
}

/** The host part of a destination, for messages and as the report's host name when the remote one cannot be read. */
export function destinationHost(destination: string): string {
  const uri = /^ssh:\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^:/]+)/.exec(destination)
  if (uri) return uri[1].replace(/^\[|\]$/g, '')
  return destination.slice(destination.lastIndexOf('@') + 1)
}

export class SshRunner implements Runner {
  readonly capturedAt = new Date()
  /** The host read, as it was reached (the destination's host part). */
  readonly origin: string
  private readonly ssh: string
  private readonly timeoutMs: number
  private readonly maxOutputBytes: number
  private readonly deadline: number
  private readonly commands: LiveRunner
  private readonly listens: LiveRunner
  private master?: ChildProcess
  private masterStderr = ''
  private masterExited = false
  private forgetMaster?: () => void
  /** File reads asked for in this turn of the event loop, read in one session. */
  private readonly pendingReads: {path: string; resolve: (c: FileCapture) => void}[] = []
  /** Commands asked for in this turn of the event loop, run in batch sessions. */
  private readonly pendingRuns: PendingRun[] = []

  private constructor(
    private readonly target: SshTarget,
    options: SshRunnerOptions,
    private readonly controlPath: string,
    private readonly removeDir: () => Promise<void>,
  ) {
    this.origin = destinationHost(target.destination)
    this.ssh = options.ssh ?? 'ssh'
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
    this.deadline = options.deadlineMs === undefined ? Infinity : Date.now() + options.deadlineMs
    // The local clients' timeouts are set per session below (the remote timeout plus the network's margin).
    const local = {timeoutMs: 24 * 3600_000, maxOutputBytes: this.maxOutputBytes, deadlineMs: options.deadlineMs, pipeGraceMs: NETWORK_MARGIN_MS}
    this.commands = new LiveRunner({...local, concurrency: COMMAND_SESSIONS})
    this.listens = new LiveRunner({...local, concurrency: LISTEN_SESSIONS})
  }

  /** Connects (or throws a UserError saying why not) and checks the remote shell and tools kvmdoctor relies on. */
  static async open(options: SshRunnerOptions): Promise<SshRunner> {
    const target = {destination: options.destination, options: options.options ?? []}
    checkSshTarget(target)
    const work = await privateTempDir('kvmdoctor-ssh-')
    const runner = new SshRunner(target, options, join(work.dir, 'control'), work.remove)
    try {
      await runner.connect()
      await runner.check()
      return runner
    } catch (error) {
      await runner.close()
      throw error
    }
  }

  /** The options every ssh invocation starts with: ours first, since ssh keeps the first value given. */
  private common(): string[] {
    return ['-S', this.controlPath, '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-a', '-x', '-T']
  }

  private connect(): Promise<void> {
    const argv = [
      ...this.common(),
      '-M',
      '-N',
      '-o', 'ControlPersist=no',
      '-o', 'ClearAllForwardings=yes',
      '-o', `ConnectTimeout=${CONNECT_TIMEOUT_S}`,
      '-o', 'ServerAliveInterval=10',
      '-o', 'ServerAliveCountMax=3',
      ...(this.target.options ?? []).flatMap((o) => ['-o', o]),
      '--',
      this.target.destination,
    ]
    return new Promise((resolve, reject) => {
      let master: ChildProcess
      try {
        master = spawn(this.ssh, argv, {stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: {...process.env, LC_ALL: 'C'}})
      } catch (error) {
        reject(new UserError(`--ssh: cannot run ssh (${(error as Error).message})`))
        return
      }
      this.master = master
      const group = master.pid
      if (group !== undefined) this.forgetMaster = onExit(() => killGroup(group, 'SIGKILL'))
      master.stderr!.on('data', (chunk: Buffer) => {
        if (this.masterStderr.length < 65536) this.masterStderr += chunk.toString('utf8')
      })
      master.stderr!.on('error', () => undefined)
      const started = Date.now()
      const fail = (why: string) => {
        clearInterval(poll)
        reject(new UserError(`cannot connect to ${this.target.destination} over ssh: ${why}`))
      }
      master.on('error', (error: NodeJS.ErrnoException) => {
        this.masterExited = true
        fail(error.code === 'ENOENT' ? `${this.ssh}: command not found (--ssh needs the OpenSSH client)` : error.message)
      })
      master.on('exit', () => {
        this.masterExited = true
      })
      // The control socket appears once the connection is up and authenticated.
      const poll = setInterval(() => {
        if (existsSync(this.controlPath) && !this.masterExited) {
          clearInterval(poll)
          resolve()
        } else if (this.masterExited) {
          // Its stderr may still be arriving: a moment for the last line.
          setTimeout(() => {
            const message = sshMessage(this.masterStderr)
            fail(`${message}${connectHint(message)}`)
          }, 50)
          clearInterval(poll)
        } else if (Date.now() - started > CONNECT_TIMEOUT_S * 1000 + AUTH_WAIT_MS) {
          fail(`no answer within ${CONNECT_TIMEOUT_S + AUTH_WAIT_MS / 1000} s`)
        }
      }, 20)
    })
  }

  /** The remote login shell must keep quoted words as they are, and env(1) and timeout(1) must be there. */
  private async check(): Promise<void> {
    const c = await this.run(['printf', '%s', CHECK_TEXT])
    if (c.output === CHECK_TEXT && c.error === undefined) return
    if (c.errorCode === 'not-found' || /\b(env|timeout)\b.*(not found|No such file)/.test(c.stderr)) {
      throw new UserError(`${this.target.destination}: env(1) or timeout(1) is missing there (coreutils); kvmdoctor runs every remote command through them`)
    }
    if (c.error !== undefined && c.exitCode !== 0) throw new UserError(`${this.target.destination}: a test command failed over ssh: ${c.error}`)
    throw new UserError(`${this.target.destination}: the remote login shell changed a quoted word (sent ${JSON.stringify(CHECK_TEXT)}, got ${JSON.stringify(c.output.slice(0, 200))}); kvmdoctor needs a POSIX shell (sh, bash, dash, ksh, zsh) as the login shell there`)
  }

  /** One session: `ssh -S CONTROL DEST 'env' 'LC_ALL=C' ... 'timeout' ... ARGV`, on the connection already open. */
  private session(argv: string[], remoteMs: number, signal: 'TERM' | 'INT' = 'TERM'): string[] {
    const remote = shellCommand(['env', 'LC_ALL=C', 'LANG=C', 'timeout', '-s', signal, '-k', String(KILL_AFTER_S), secondsOf(remoteMs), ...argv])
    // ProxyCommand=false: should the connection be gone, a session fails instead of opening one of its own.
    return [this.ssh, ...this.common(), '-n', '-o', 'ControlMaster=no', '-o', 'ProxyCommand=false', '--', this.target.destination, `exec ${remote}`]
  }

  async run(argv: string[], options: RunOptions = {}): Promise<CommandCapture> {
    const command = argv.join(' ')
    const capture: CommandCapture = {kind: 'command', argv, output: '', stderr: '', exitCode: null, durationMs: 0, timedOut: false, truncated: false}
    if (argv.length === 0 || argv.some((a) => a.includes('\u0000'))) return {...capture, error: `${argv[0] ?? '(empty)'}: cannot run (an empty command or a NUL byte)`, errorCode: 'failed'}
    const remaining = this.deadline - Date.now()
    if (remaining <= 0) return {...capture, timedOut: true, error: `${command}: not run, the run's deadline had passed`, errorCode: 'timeout'}
    const listening = options.listenMs !== undefined
    const wanted = listening ? options.listenMs! : Math.min(options.timeoutMs ?? this.timeoutMs, this.timeoutMs)
    const how: RunHow = {listening, remoteMs: Math.min(wanted, remaining), maxOutputBytes: Math.min(options.maxOutputBytes ?? this.maxOutputBytes, this.maxOutputBytes), stoppedByDeadline: remaining < wanted}
    // A listen takes its own session for its time; a command with a cap of its own is capped on its own.
    if (listening || options.maxOutputBytes !== undefined) return this.runAlone(argv, how)
    return new Promise((resolve) => {
      this.pendingRuns.push({argv, how, resolve})
      if (this.pendingRuns.length === 1) setImmediate(() => this.flushRuns())
    })
  }

  /** One session for ARGV alone. */
  private async runAlone(argv: string[], how: RunHow): Promise<CommandCapture> {
    // A listen ends with timeout's TERM (tcpdump prints what it heard and exits): that end is normal.
    const local = await (how.listening ? this.listens : this.commands).run(this.session(argv, how.remoteMs), {timeoutMs: how.remoteMs + KILL_AFTER_S * 1000 + NETWORK_MARGIN_MS, maxOutputBytes: how.maxOutputBytes})
    return this.result(argv, local, how)
  }

  /** What a session's client (or a batch's section of it) says about ARGV, as a capture of ARGV. */
  private result(argv: string[], local: CommandCapture, how: RunHow): CommandCapture {
    const command = argv.join(' ')
    const result: CommandCapture = {kind: 'command', argv, output: local.output, stderr: local.stderr, exitCode: local.exitCode, durationMs: local.durationMs, timedOut: false, truncated: local.truncated}
    return {...result, ...this.classify(command, argv[0], local, how)}
  }

  private flushRuns(): void {
    const waiting = this.pendingRuns.splice(0)
    let batch: PendingRun[] = []
    let length = 0
    for (const run of waiting) {
      const words = run.argv.reduce((sum, w) => sum + w.length + 8, 16)
      if (batch.length > 0 && (batch.length === COMMANDS_PER_SESSION || length + words > BATCH_COMMAND_LINE)) {
        void this.runBatch(batch)
        batch = []
        length = 0
      }
      batch.push(run)
      length += words
    }
    if (batch.length > 0) void this.runBatch(batch)
  }

  /**
   * Runs BATCH in one session through RUN_SCRIPT, each command framed by a random mark the batch's own command
   * line holds. A command the batch did not deliver whole (the session failed, was cut at the size cap or at the
   * deadline) runs again on its own, and says why there.
   */
  private async runBatch(batch: PendingRun[]): Promise<void> {
    if (batch.length === 1) return batch[0].resolve(await this.runAlone(batch[0].argv, batch[0].how))
    const mark = `kvmdoctor-${randomBytes(16).toString('hex')}`
    const words = batch.flatMap(({argv, how}) => [secondsOf(how.remoteMs), String(argv.length), ...argv])
    // The commands run one after another: the batch may take their timeouts' sum (each with timeout's KILL grace).
    const remoteMs = batch.reduce((sum, {how}) => sum + how.remoteMs + KILL_AFTER_S * 1000, 0)
    const local = await this.commands.run(this.session(['sh', '-c', RUN_SCRIPT, 'kvmdoctor-run', mark, ...words], remoteMs), {timeoutMs: remoteMs + NETWORK_MARGIN_MS, maxOutputBytes: this.maxOutputBytes})
    const sections = ranSections(local.output, mark)
    // Replays sum what a probe read: each command carries its share of the session.
    const durationMs = Math.round(local.durationMs / batch.length)
    await Promise.all(
      batch.map(async ({argv, how, resolve}, i) => {
        const section = sections[i]
        if (!section) return resolve(await this.runAlone(argv, how))
        resolve(this.result(argv, {...local, output: section.output, stderr: section.stderr, exitCode: section.status, durationMs, errorCode: undefined, error: undefined, timedOut: false, truncated: false}, how))
      }),
    )
  }

  private classify(command: string, program: string, local: CommandCapture, how: RunHow): Partial<CommandCapture> {
    const on = `on ${this.origin}`
    if (local.errorCode === 'not-found') return {error: `${this.ssh}: command not found (--ssh needs the OpenSSH client)`, errorCode: 'failed'}
    if (local.errorCode === 'too-large') return {error: `${command}: output over the ${formatBytes(how.maxOutputBytes)} cap, stopped (only its start was kept)`, errorCode: 'too-large'}
    if (local.timedOut) {
      if (/deadline/.test(local.error ?? '')) return {timedOut: true, error: `${command}: stopped at the run's deadline (${on})`, errorCode: 'timeout'}
      return {timedOut: true, error: `${command}: no answer from ${this.origin} within ${how.remoteMs + NETWORK_MARGIN_MS} ms (the ssh connection stalled)`, errorCode: 'timeout'}
    }
    const code = local.exitCode
    if (code === 0) return {}
    // timeout(1): 124 when it stopped the command, 128+9 when the command ignored TERM and was killed.
    if (code === 124 || code === 137) {
      if (how.listening) return {exitCode: null, ...(how.stoppedByDeadline ? {truncated: true} : {})}
      return {timedOut: true, error: how.stoppedByDeadline ? `${command}: stopped at the run's deadline after ${how.remoteMs} ms (${on})` : `${command}: timed out after ${how.remoteMs} ms ${on}`, errorCode: 'timeout'}
    }
    if (code === 127) return {error: `${program}: command not found ${on}`, errorCode: 'not-found'}
    if (code === 126) return {error: `${program}: cannot be run ${on} (permission denied)`, errorCode: 'permission-denied'}
    if (code === 255 && (this.masterGone() || /^(ssh|mux_client|Control socket|kex_exchange_identification|Connection (closed|reset)|ssh_exchange)/m.test(local.stderr))) {
      return {error: `${command}: the ssh connection to ${this.origin} failed (${sshMessage(this.masterGone() ? this.masterStderr || local.stderr : local.stderr)})`, errorCode: 'failed'}
    }
    const firstLine = local.stderr.trim().split('\n')[0]?.slice(0, 500) ?? ''
    return {error: `${command}: exit ${code ?? 'signal'}${firstLine ? `: ${firstLine}` : ''} (${on})`, errorCode: /permission denied|not permitted/i.test(local.stderr) ? 'permission-denied' : 'exit-status'}
  }

  private masterGone(): boolean {
    return this.masterExited || !existsSync(this.controlPath)
  }

  /**
   * Reads a file. The reads a probe asks for at once (sysctl asks for some sixty) go in one session, each
   * file framed by a random mark the batch's own command line holds: a session costs a fork and a shell
   * there, and a round trip. A file the batch did not deliver whole is read on its own.
   */
  readFile(path: string, options: ReadOptions = {}): Promise<FileCapture> {
    if (options.tailBytes !== undefined) return this.readOne(path, options)
    return new Promise((resolve) => {
      this.pendingReads.push({path, resolve})
      if (this.pendingReads.length === 1) setImmediate(() => this.flushReads())
    })
  }

  private flushReads(): void {
    const waiting = this.pendingReads.splice(0)
    for (let i = 0; i < waiting.length; i += READ_BATCH) void this.readBatch(waiting.slice(i, i + READ_BATCH))
  }

  private async readBatch(batch: {path: string; resolve: (c: FileCapture) => void}[]): Promise<void> {
    if (batch.length === 1) return batch[0].resolve(await this.readOne(batch[0].path))
    const mark = `kvmdoctor-${randomBytes(16).toString('hex')}`
    const c = await this.run(['sh', '-c', READ_SCRIPT, 'kvmdoctor-read', mark, String(this.maxOutputBytes + 1), ...batch.map((b) => b.path)])
    const sections = framedSections(c.output, mark)
    // Replays sum what a probe read: each file carries its share of the session.
    const durationMs = Math.round(c.durationMs / batch.length)
    await Promise.all(
      batch.map(async ({path, resolve}, i) => {
        const section = sections[i]
        if (!section) return resolve(await this.readOne(path))
        const capture: FileCapture = {kind: 'file', path, output: section.content, durationMs, truncated: false}
        if (section.status === 'ok' && Buffer.byteLength(section.content) > this.maxOutputBytes) {
          const prefix = Buffer.from(section.content).subarray(0, this.maxOutputBytes).toString('utf8')
          return resolve({...capture, output: prefix, truncated: true, error: `${path}: larger than the ${formatBytes(this.maxOutputBytes)} cap (only its start was read)`, errorCode: 'too-large'})
        }
        if (section.status === 'ok') return resolve(capture)
        const failed = READ_FAILURES[section.status]
        if (!failed) return resolve(await this.readOne(path))
        resolve({...capture, output: '', error: `${path}: ${failed.text}`, errorCode: failed.code})
      }),
    )
  }

  private async readOne(path: string, options: ReadOptions = {}): Promise<FileCapture> {
    const capture: FileCapture = {kind: 'file', path, output: '', durationMs: 0, truncated: false}
    const tail = options.tailBytes
    // One byte more than wanted tells "exactly this long" from "longer".
    const c = await this.run(tail === undefined ? ['head', '-c', String(this.maxOutputBytes + 1), '--', path] : ['tail', '-c', String(tail + 1), '--', path])
    capture.durationMs = c.durationMs
    if (c.errorCode === 'too-large') {
      return {...capture, output: c.output, truncated: true, error: `${path}: larger than the ${formatBytes(this.maxOutputBytes)} cap (only its start was read)`, errorCode: 'too-large'}
    }
    if (c.error !== undefined) return {...capture, ...fileError(path, c)}
    if (tail !== undefined && Buffer.byteLength(c.output) > tail) {
      // Only the end of a large log: from its first whole line.
      return {...capture, output: c.output.slice(c.output.indexOf('\n') + 1), truncated: true}
    }
    return {...capture, output: c.output}
  }

  async listDir(path: string): Promise<DirCapture> {
    const capture: DirCapture = {kind: 'dir', path, output: '', durationMs: 0, truncated: false}
    // The trailing slash makes ls refuse a file instead of listing its name.
    const c = await this.run(['ls', '-A1', '--', path.endsWith('/') ? path : `${path}/`])
    capture.durationMs = c.durationMs
    if (c.error !== undefined) return {...capture, ...fileError(path, c)}
    return {...capture, output: c.output.split('\n').filter((n) => n !== '').sort().join('\n')}
  }

  /** Closes the connection and removes the control directory. */
  async close(): Promise<void> {
    const master = this.master
    if (master?.pid !== undefined && !this.masterExited) {
      const exited = new Promise<void>((resolve) => master.once('exit', () => resolve()))
      killGroup(master.pid, 'SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000).unref())])
      if (!this.masterExited) killGroup(master.pid, 'SIGKILL')
    }
    this.forgetMaster?.()
    await this.removeDir()
  }
}

/**
 * The batch read: a fixed script, the mark, the cap and the paths its arguments. For each path it prints
 * "MARK start", the file's first CAP bytes, then "MARK STATUS"; it reads regular files only (a FIFO would
 * block the batch) and tells a missing file from an unreadable one as a local read does.
 */
const READ_SCRIPT = `m=$1 n=$2; shift 2
for f do
  printf '%s start\\n' "$m"
  if [ ! -e "$f" ]; then s=not-found
  elif [ ! -f "$f" ]; then s=not-regular
  elif [ ! -r "$f" ]; then s=permission-denied
  elif head -c "$n" -- "$f"; then s=ok
  else s=failed
  fi
  printf '\\n%s %s\\n' "$m" "$s"
done`
/**
 * The batch run: a fixed script, the mark, then for each command its timeout in seconds, its number of words and
 * its words. For each it prints "MARK start", the command's output, "MARK err", what it wrote on stderr, and
 * "MARK end STATUS" (its exit status, timeout(1)'s when it stopped it). A command's words are taken from the
 * arguments as they are ("$@"): nothing in them is read by a shell. Its stdin is /dev/null, as a session's is.
 */
const RUN_SCRIPT = `m=$1; shift
exec 3>&1
while [ $# -gt 2 ]; do
  t=$1 n=$2; shift 2
  printf '%s start\\n' "$m"
  e=$(
    k=0
    for a do
      k=$((k + 1))
      [ $k -eq 1 ] && set --
      set -- "$@" "$a"
      [ $k -eq "$n" ] && break
    done
    timeout -s TERM -k ${KILL_AFTER_S} "$t" "$@" 2>&1 1>&3 3>&- </dev/null
    s=$?
    printf x
    exit $s
  )
  s=$?
  printf '\\n%s err\\n%s\\n%s end %s\\n' "$m" "\${e%x}" "$m" "$s"
  shift "$n"
done`

interface RunHow {
  listening: boolean
  remoteMs: number
  maxOutputBytes: number
  stoppedByDeadline: boolean
}

interface PendingRun {
  argv: string[]
  how: RunHow
  resolve: (c: CommandCapture) => void
}

/** A remote timeout as timeout(1) takes it. */
const secondsOf = (ms: number) => (Math.max(1, ms) / 1000).toFixed(3)

/** The whole sections of a batch run's output, by position: what a cut or failed batch did not deliver is missing. */
function ranSections(output: string, mark: string): ({output: string; stderr: string; status: number} | undefined)[] {
  const sections: ({output: string; stderr: string; status: number} | undefined)[] = []
  const start = `${mark} start\n`
  const err = `\n${mark} err\n`
  const end = `\n${mark} end `
  for (let at = 0; output.startsWith(start, at); ) {
    const from = at + start.length
    const errAt = output.indexOf(err, from)
    const endAt = errAt < 0 ? -1 : output.indexOf(end, errAt + err.length)
    const eol = endAt < 0 ? -1 : output.indexOf('\n', endAt + end.length)
    if (eol < 0) break
    const status = output.slice(endAt + end.length, eol)
    if (!/^\d+$/.test(status)) break
    sections.push({output: output.slice(from, errAt), stderr: output.slice(errAt + err.length, endAt), status: Number(status)})
    at = eol + 1
  }
  return sections
}

/** Files per batch session. */
const READ_BATCH = 64
const READ_FAILURES: Record<string, {text: string; code: FileCapture['errorCode']}> = {
  'not-found': {text: 'no such file or directory', code: 'not-found'},
  'not-regular': {text: 'not a regular file', code: 'failed'},
  'permission-denied': {text: 'permission denied', code: 'permission-denied'},
}

/** The whole sections of a batch read's output, by position: what a cut or failed batch did not deliver is missing. */
function framedSections(output: string, mark: string): ({content: string; status: string} | undefined)[] {
  const sections: ({content: string; status: string} | undefined)[] = []
  const start = `${mark} start\n`
  const end = `\n${mark} `
  for (let at = 0; output.startsWith(start, at); ) {
    const from = at + start.length
    const close = output.indexOf(end, from)
    const eol = close < 0 ? -1 : output.indexOf('\n', close + end.length)
    if (eol < 0) break
    sections.push({content: output.slice(from, close), status: output.slice(close + end.length, eol)})
    at = eol + 1
  }
  return sections
}

/** A file read or listing that failed, worded as the local runner words it. */
function fileError(path: string, c: CommandCapture): Pick<FileCapture, 'error' | 'errorCode'> {
  if (c.errorCode === 'exit-status' || c.errorCode === 'permission-denied') {
    if (/No such file or directory/.test(c.stderr)) return {error: `${path}: no such file or directory`, errorCode: 'not-found'}
    if (/Permission denied|Operation not permitted/.test(c.stderr)) return {error: `${path}: permission denied`, errorCode: 'permission-denied'}
    if (/Is a directory/.test(c.stderr)) return {error: `${path}: not a regular file`, errorCode: 'failed'}
    if (/Not a directory/.test(c.stderr)) return {error: `${path}: not a directory`, errorCode: 'failed'}
  }
  return {error: c.error, errorCode: c.errorCode}
}
