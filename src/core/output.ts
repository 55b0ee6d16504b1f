/**
 * What the commands print or write, made safe: credentials scrubbed from
 * everything, and host strings (guest names, log lines, error texts) shown
 * with their control and invisible characters made visible, so data read from
 * a host can never drive the terminal (escape sequences, carriage returns,
 * bidi overrides) nor start a line of its own (a forged row, heading or fence).
 */
import type {Diagnosis} from './diagnose.js'
import {UserError} from './errors.js'
import {mapStringsDeep, scrubText} from '../lib/scrub.js'
import {TOPOLOGY_FACTS} from './topology.js'

/**
 * What host data may not carry into a line of text, Markdown or stderr: C0 and C1 controls but
 * tab (newline and carriage return included: a name never starts a line of its own), DEL, the
 * Unicode line and paragraph separators, the bidi marks, embeddings, overrides and isolates, and
 * the invisible characters (zero-width spaces and joiners, word joiner, soft hyphen, BOM, Hangul
 * fillers, tag characters) that would make two names look alike or hide text.
 */
const INVISIBLE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb\u{e0000}-\u{e007f}\u{e0100}-\u{e01ef}]/gu

export function visibleControls(text: string): string {
  return text.replace(INVISIBLE, (c) => {
    const code = c.codePointAt(0)!
    if (code === 0x0a) return '\\n'
    if (code === 0x0d) return '\\r'
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : code <= 0xffff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\u{${code.toString(16)}}`
  })
}

/** Every string in a value with control characters made visible (only what changes is copied). */
export function visibleControlsDeep<T>(value: T): T {
  return mapStringsDeep(value, visibleControls)
}

/** Formats whose encoder escapes control characters itself (JSON): host strings stay exact there. */
const ESCAPED_FORMATS = new Set(['json', 'sarif'])

/**
 * The diagnosis as reports may show it: credentials scrubbed; for formats read by people or
 * by line-based tools (text, Markdown, JUnit XML, Prometheus), control characters made visible.
 * Of the raw facts, reports get those the topology reads (made safe too); the firewall ruleset and
 * the like stay out (a big host's ruleset was most of a text report's cost).
 */
export function reportable(d: Diagnosis, format: string): Diagnosis {
  const facts = Object.fromEntries(TOPOLOGY_FACTS.filter((id) => d.facts[id] !== undefined).map((id) => [id, d.facts[id]]))
  if (ESCAPED_FORMATS.has(format)) return {...mapStringsDeep({...d, facts: {}}, scrubText, {scrubKeys: true}), facts}
  // One pass, copying only what changes.
  return mapStringsDeep({...d, facts}, (text) => visibleControls(scrubText(text)), {scrubKeys: true})
}

/**
 * The JSON report as written (diagnose --json and --format json), every string in it scrubbed, the
 * gate's too. Projected before it is scrubbed: the scrub walks what the report prints, not every hop
 * of every guest's flows and every check of the diagnosis (on a 1000-guest host, most of the work).
 */
/** Longest line written to stderr: a message quoting a crafted input stays readable. */
const MAX_ERROR_LINE = 2000

/** A line for stderr: scrubbed, controls visible, cut to MAX_ERROR_LINE characters. */
export function errorLine(message: string): string {
  const line = visibleControls(scrubText(message.length > 4 * MAX_ERROR_LINE ? message.slice(0, 4 * MAX_ERROR_LINE) : message))
  return line.length > MAX_ERROR_LINE ? `${line.slice(0, MAX_ERROR_LINE)}… (${message.length} characters)` : line
}

/** A warning on stderr, in every output mode (oclif drops logToStderr under --json; these matter there too). */
export function warnOnStderr(message: string): void {
  process.stderr.write(`${errorLine(`kvmdoctor: warning: ${message}`)}\n`)
}

/** Longer than any real domain, network or interface name: a crafted input, refused before it is copied into every report line. */
export const MAX_NAME_LENGTH = 4096

/** Entity names of a diagnosis within MAX_NAME_LENGTH, or a UserError naming the kind and size. */
export function checkNames(names: Iterable<{kind: string; name: string}>): void {
  for (const e of names) checkName(e)
}

function checkName(e: {kind: string; name: string}): void {
  if (e.name.length > MAX_NAME_LENGTH) {
    throw new UserError(`the input holds a ${e.kind} name of ${e.name.length} characters (the limit is ${MAX_NAME_LENGTH}): not a real host's data`)
  }
}

export function checkDiagnosisNames(d: Diagnosis): void {
  // Every (rule, entity) checked is here, thousands on a big host: looked at in place, in the same order.
  for (let i = 0; i < d.findings.length; i++) checkName(d.findings[i].entity)
  for (let i = 0; i < d.checked.length; i++) checkName(d.checked[i].entity)
  for (let i = 0; i < d.notChecked.length; i++) {
    const e = d.notChecked[i].entity
    if (e) checkName(e)
  }
}

/** Path and value flags given as "" are a usage error, not "use the default" or "run live". */
export function requireNonEmpty(flags: Record<string, unknown>, names: string[]): void {
  for (const name of names) {
    const value = flags[name]
    if (typeof value === 'string' && value.trim() === '') throw new UserError(`--${name} needs a value, got an empty string`)
  }
}

/** oclif's usage errors (bad or missing flag, unknown flag, missing argument) as one line; undefined for anything else. */
export function usageErrorText(error: unknown): string | undefined {
  const e = error as {oclif?: {exit?: number}; message?: unknown}
  if (e?.oclif?.exit !== 2 || typeof e.message !== 'string') return undefined
  const lines = e.message.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^See more help with/.test(l))
  return visibleControls(lines.reduce((all, l) => (all === '' ? l : `${all}${all.endsWith(':') ? ' ' : ': '}${l}`), '').replace(/\s+/g, ' '))
}
