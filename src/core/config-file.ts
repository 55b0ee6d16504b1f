/**
 * YAML configuration files (ignore list, expectations): parsed with the yaml
 * library, validated with zod, and every problem reported with its line.
 *
 * They are read from an explicit flag or from the user's configuration directory,
 * never from the working directory: an unpacked bundle or a shared directory must
 * not be able to plant findings or suppress real ones.
 */
import {stat} from 'node:fs/promises'
import {homedir} from 'node:os'
import {isAbsolute, join} from 'node:path'
import type {z} from 'zod'
import {BUDGET, readRegularFile} from './budget.js'
import {UserError} from './errors.js'

/** `$XDG_CONFIG_HOME/kvmdoctor` (an absolute XDG_CONFIG_HOME only, as the XDG spec says), else `~/.config/kvmdoctor`. */
export function userConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME
  const base = xdg && isAbsolute(xdg) ? xdg : join(env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir(), '.config')
  return join(base, 'kvmdoctor')
}

/** The configuration files kvmdoctor reads by default, by their name in userConfigDir(). */
export const CONFIG_FILES = {ignore: 'ignore.yaml', expectations: 'kvmdoctor.yaml'} as const

/**
 * A default configuration file in `dir`, when it exists. Like ssh's StrictModes, a file (or its
 * directory) that another user owns or could write is refused: whoever can write it decides what
 * the gate lets through.
 */
export async function defaultConfigFile(dir: string, name: string): Promise<string | undefined> {
  const path = join(dir, name)
  const file = await stat(path).catch(() => undefined)
  if (!file) return undefined
  const uid = process.geteuid?.() ?? 0
  for (const [what, info] of [[dir, await stat(dir)], [path, file]] as const) {
    if (info.uid !== uid && info.uid !== 0) throw new UserError(`refusing ${path}: ${what} belongs to uid ${info.uid}, not to you (uid ${uid}) or root`)
    if ((info.mode & 0o022) !== 0) throw new UserError(`refusing ${path}: ${what} is writable by ${(info.mode & 0o002) !== 0 ? 'everyone' : 'its group'} (chmod go-w ${what})`)
  }
  return path
}

export async function loadYamlFile<T>(path: string, schema: z.ZodType<T>, what: string): Promise<T> {
  if (path.trim() === '') throw new UserError(`${what}: the path is empty`)
  // A regular file of bounded size: a FIFO or /dev/zero given as --ignore must not hang or flood.
  const text = await readRegularFile(path, {maxBytes: BUDGET.configBytes, label: `${what} ${path}`})
  // yaml loads only when there is a file to read: most runs have none, and it is not free at start-up.
  // Its Node build is CommonJS, so its exports object is the namespace's default: a bundle's lazy chunk
  // has nothing else (Node adds named exports, a bundler does not).
  return parseYaml((await import('yaml')).default, text, schema, `${what} ${path}`)
}

function parseYaml<T>({LineCounter, parseDocument}: typeof import('yaml'), text: string, schema: z.ZodType<T>, where: string): T {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {lineCounter, prettyErrors: false})
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    const line = e.linePos?.[0]?.line ?? lineCounter.linePos(e.pos[0]).line
    throw new UserError(`${where}, line ${line}: ${e.message.split('\n')[0]}`)
  }
  let value: unknown
  try {
    // yaml refuses alias expansion past its limit (billion laughs): that is bad input, not a crash.
    value = doc.toJS({maxAliasCount: 100}) ?? {}
  } catch (error) {
    throw new UserError(`${where}: ${(error as Error).message.split('\n')[0]}`)
  }
  const parsed = schema.safeParse(value)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  // Point at the offending node, or the closest ancestor that exists.
  let line: number | undefined
  for (let depth = issue.path.length; depth >= 0 && line === undefined; depth--) {
    const node = doc.getIn(issue.path.slice(0, depth) as (string | number)[], true) as {range?: [number, number, number]} | undefined
    if (node?.range) line = lineCounter.linePos(node.range[0]).line
  }
  const at = issue.path.length > 0 ? ` (${issue.path.join('.')})` : ''
  throw new UserError(`${where}, line ${line ?? 1}${at}: ${issue.message}`)
}
