/**
 * What the commands print or write, made safe: credentials scrubbed from
 * everything, and host strings (guest names, log lines, error texts) shown
 * with their control and invisible characters made visible, so data read from
 * a host can never drive the terminal (escape sequences, carriage returns,
 * bidi overrides) nor start a line of its own (a forged row, heading or fence).
 */
import type {Diagnosis} from '../result/diagnosis.js'
import type {Topology} from '../result/topology.js'
import {UserError} from './errors.js'
import {mapStringsDeep, scrubText, stringMapper} from '../lib/scrub.js'

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
 * by line-based tools (text, Markdown, JUnit XML, Prometheus), control characters made visible,
 * the topology too when a report draws it. No raw facts: reports read the result alone.
 */
export function reportable(d: Diagnosis, format: string): Diagnosis {
  const {topology, ...rest} = d
  delete (rest as {facts?: unknown}).facts
  const safe = ESCAPED_FORMATS.has(format) ? scrubText : (text: string) => visibleControls(scrubText(text))
  let shown: Topology | undefined
  // One pass each, copying only what changes; keys too (a map keyed by host names). The topology repeats the
  // flows' hops: the strings the first pass scrubbed are not scrubbed again.
  const safeDeep = stringMapper(safe, {scrubKeys: true})
  return {...safeDeep(rest), topology: () => shown ?? (shown = safeDeep(topology()))}
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

/**
 * Where rule docs are published, for SARIF's helpUri: KVMDOCTOR_DOCS_URL (https), or none (the doc is in
 * help.text and help.markdown either way). Never a file:// path of the machine that ran kvmdoctor.
 */
export function docsBaseUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const base = env.KVMDOCTOR_DOCS_URL
  if (base === undefined || base === '') return undefined
  if (!/^https:\/\/[^\s/]+(\/\S*)?$/.test(base)) throw new UserError(`KVMDOCTOR_DOCS_URL must be an https:// URL (got "${base}")`)
  return base.replace(/\/+$/, '')
}
