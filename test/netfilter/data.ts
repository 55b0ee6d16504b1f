import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {ROOT} from '../helpers.js'

/** A real listing under test/data/netfilter (see its README for how each was produced). */
export const data = (file: string) => readFileSync(join(ROOT, 'test/data/netfilter', file), 'utf8')

export const DATA_FILES = readdirSync(join(ROOT, 'test/data/netfilter')).filter((f) => /\.(txt|json)$/.test(f))

/**
 * Recorded outputs of iptables-save, ip6tables-save, iptables-legacy-save and
 * ip6tables-legacy-save: `-c` since the probe asks for counters
 * (`0012-command-iptables-save--c.txt`), without it in older recordings
 * (`0007-command-iptables-save.txt`).
 */
export const IPTABLES_SAVE = /\d-command-ip6?tables(-legacy)?-save(--c)?\.txt$/
/** The save command of one tool only (`iptables`, `ip6tables-legacy` ...), with or without -c. */
export const saveOf = (tool: 'iptables' | 'ip6tables' | 'iptables-legacy' | 'ip6tables-legacy') => new RegExp(`\\d-command-${tool}-save(--c)?\\.txt$`)
/** The family an iptables-save style output lists, from its file name. */
export const saveFamily = (file: string): 'ip' | 'ip6' => (/ip6tables/.test(file) ? 'ip6' : 'ip')

const fixtureNames = () => readdirSync(join(ROOT, 'fixtures')).filter((f) => existsSync(join(ROOT, 'fixtures', f, 'outputs')))

/** Recorded lab outputs of one command in every fixture: [fixture/file, text]. */
export function fixtureOutputs(command: RegExp): [string, string][] {
  return fixtureNames().flatMap((fixture) => outputsOf(fixture, command))
}

/** Recorded outputs of one command in one fixture: [fixture/file, text]. */
export function outputsOf(fixture: string, command: RegExp): [string, string][] {
  const dir = join(ROOT, 'fixtures', fixture, 'outputs')
  return readdirSync(dir)
    .filter((f) => command.test(f))
    .map((f): [string, string] => [`${fixture}/${f}`, readFileSync(join(dir, f), 'utf8')])
}

export interface PrintedCounters {
  /** The [packets:bytes] of the chain's own ":NAME POLICY [p:b]" line. */
  chain?: {packets: number; bytes: number}
  /** The [packets:bytes] each "-A NAME" rule line starts with, in order (undefined when not printed). */
  rules: ({packets: number; bytes: number} | undefined)[]
}

/**
 * The counters an iptables-save output prints, read line by line with plain
 * regexes (independently of the parser under test): "table chain" -> counters.
 */
export function printedCounters(text: string): Map<string, PrintedCounters> {
  const out = new Map<string, PrintedCounters>()
  const of = (table: string, chain: string) => {
    const key = `${table} ${chain}`
    if (!out.has(key)) out.set(key, {rules: []})
    return out.get(key)!
  }
  let table = ''
  for (const line of text.split('\n')) {
    const t = /^\*(\S+)$/.exec(line)
    if (t) table = t[1]
    const c = /^:(\S+) \S+(?: \[(\d+):(\d+)\])?$/.exec(line)
    if (c) {
      const entry = of(table, c[1])
      if (c[2] !== undefined) entry.chain = {packets: Number(c[2]), bytes: Number(c[3])}
    }
    const r = /^(?:\[(\d+):(\d+)\] )?-A (\S+)/.exec(line)
    if (r) of(table, r[3]).rules.push(r[1] !== undefined ? {packets: Number(r[1]), bytes: Number(r[2])} : undefined)
  }
  return out
}
