/**
 * Fixes are data: each step an argv, a pipeline of argvs, or a file write. The
 * text a person pastes is rendered from them here and nowhere else, every word
 * quoted for a POSIX shell; `kvmdoctor fix --yes` runs the same data without a
 * shell. A value from the host (a network, guest, tap or bridge name, a MAC) is
 * always one word, whatever characters it holds.
 */
import {shellQuote} from './shell.js'

export type FixStep =
  /** One command. `disrupts`: the running guests it cuts off until the steps after it bring them back. */
  | {argv: string[]; disrupts?: string[]}
  /** Commands whose output feeds the next (a check that filters a listing). */
  | {pipeline: string[][]}
  /** A file written (or appended to) with this content. */
  | {write: {path: string; content: string; append: boolean}}

/**
 * Characters that mean nothing to a shell in a word. Not `#` or `~` (special at a word's start), nor a leading `=`:
 * zsh expands `=ls` to the path of ls (its EQUALS option, on by default), and fails on `=nosuchcommand`.
 */
const BARE = /^(?!=)[A-Za-z0-9_@%+=:,./-]+$/
const CONTROL = /[\u0000-\u001f\u007f]/

/**
 * One word for a POSIX shell: bare when it is plain, else single-quoted (every byte literal but
 * the quote, written '\''), or `$'...'` when it holds a control character (a newline pasted
 * inside single quotes would split the line a person reads: bash, zsh, ksh and POSIX.1-2024 sh read it).
 */
export function shellWord(word: string): string {
  if (BARE.test(word)) return word
  if (!CONTROL.test(word)) return shellQuote(word)
  if (word.includes('\u0000')) throw new TypeError('a shell word cannot hold a NUL byte')
  const escaped = [...word]
    .map((ch) => {
      if (ch === '\\' || ch === "'") return `\\${ch}`
      const code = ch.codePointAt(0)!
      return code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, '0')}` : ch
    })
    .join('')
  return `$'${escaped}'`
}

const command = (argv: readonly string[]) => {
  if (argv.length === 0) throw new TypeError('an empty command')
  return argv.map(shellWord).join(' ')
}

/** A step as the shell line a person pastes. A file write is printf into the file (one line per content line). */
export function renderStep(step: FixStep): string {
  if ('argv' in step) return command(step.argv)
  if ('pipeline' in step) return step.pipeline.map(command).join(' | ')
  const {path, content, append} = step.write
  const lines = content.endsWith('\n') ? content.slice(0, -1).split('\n') : content.split('\n')
  const format = content.endsWith('\n') ? '%s\\n' : '%s'
  return `printf ${shellWord(format)} ${lines.map(shellWord).join(' ')} ${append ? '>>' : '>'} ${shellWord(path)}`
}

/** How the comment before a step that cuts guests off starts: what follows it belongs with it. */
export const DISRUPTS = '# disrupts running guests'

/** A comment line naming the guests a step cuts off: names quoted as words, so a newline in one cannot end the comment. */
export function disruptionComment(step: FixStep): string | undefined {
  if (!('argv' in step) || !step.disrupts || step.disrupts.length === 0) return undefined
  return `${DISRUPTS} ${step.disrupts.map(shellWord).join(' ')} until the steps below re-attach them`
}

/** The lines a person pastes, in order: each step, after the comment that names the guests it disrupts. */
export function renderSteps(steps: readonly FixStep[]): string[] {
  const out: string[] = []
  for (const step of steps) {
    const comment = disruptionComment(step)
    if (comment) out.push(comment)
    out.push(renderStep(step))
  }
  return out
}

/**
 * nft joins its arguments with spaces and parses the line as its own language (`;` ends a command, `#` starts a
 * comment, `{` a set): a host's value is one of its words only when it is a plain token or a string in nft's double
 * quotes. A table, chain or interface name that is neither (a table named `t forward accept;flush ruleset #`) would
 * run more than the one command shown, whatever the shell quoting.
 */
export const nftWord = (word: string) => /^[A-Za-z0-9_./:,*-]+$/.test(word) || /^"[^"\\\u0000-\u001f\u007f]*"$/.test(word)

/**
 * Whether nft reads TEXT (its arguments joined) as one command: no `;`, `#` or line break outside its double-quoted
 * strings, each string closed. A rule's text as `nft list` prints it holds its comment unescaped: a comment
 * `x" ; flush ruleset #` prints as `comment "x" ; flush ruleset #"`.
 */
export function nftOneCommand(text: string): boolean {
  let quoted = false
  for (const ch of text) {
    if (ch === '"') quoted = !quoted
    else if (ch === '\n' || ch === '\r' || (!quoted && (ch === ';' || ch === '#'))) return false
  }
  return !quoted
}

/** The commands a step runs (argvs; a write runs none). */
export const argvsOf = (step: FixStep): string[][] => ('argv' in step ? [step.argv] : 'pipeline' in step ? step.pipeline : [])

export const stepKey = (step: FixStep) => JSON.stringify(step)

/**
 * virsh's positional arguments of the commands fixes run, by subcommand, as the options they fill. virsh
 * reads a word starting with "--" as an option wherever it stands (a guest named --config would be the
 * flag): such a name is written --OPTION=NAME, which virsh reads as the same argument.
 */
const VIRSH_POSITIONAL: Readonly<Record<string, readonly string[]>> = {
  'net-start': ['network'],
  'net-destroy': ['network'],
  'net-autostart': ['network'],
  'net-edit': ['network'],
  'net-dhcp-leases': ['network'],
  'net-update': ['network', 'command', 'section', 'xml'],
  start: ['domain'],
  shutdown: ['domain'],
  domiftune: ['domain', 'interface'],
  dumpxml: ['domain'],
  edit: ['domain'],
  'domif-setlink': ['domain', 'interface', 'state'],
  'detach-interface': ['domain', 'type'],
  'attach-interface': ['domain', 'type', 'source'],
}
/** The options of those commands that take the next word as their value. */
const VIRSH_VALUED = new Set(['--mac', '--model'])

/** `value` as the next word of a virsh argv: --OPTION=value where virsh would read it as an option, else itself. */
export function virshWord(argv: readonly string[], value: string): string {
  const names = argv[0] === 'virsh' ? VIRSH_POSITIONAL[argv[1]] : undefined
  if (!names || !value.startsWith('--') || VIRSH_VALUED.has(argv.at(-1)!)) return value
  let n = 0
  for (let i = 2; i < argv.length; i++) {
    const named = /^--([a-z-]+)=/.exec(argv[i])?.[1]
    if (named !== undefined ? names.includes(named) : !argv[i].startsWith('--')) n++
    else if (VIRSH_VALUED.has(argv[i])) i++
  }
  return n < names.length ? `--${names[n]}=${value}` : value
}

/** A virsh argv with its --OPTION=NAME positionals read back in place, as virsh reads them (the judge reads positions). */
export function virshPositional(argv: readonly string[]): string[] {
  const names = argv[0] === 'virsh' ? VIRSH_POSITIONAL[argv[1]] : undefined
  if (!names) return [...argv]
  return argv.map((w, i) => {
    const m = /^--([a-z-]+)=([\s\S]*)$/.exec(w)
    return i >= 2 && m && names.includes(m[1]) ? m[2] : w
  })
}
