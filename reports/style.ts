/**
 * Colour and width for terminal output. Colour follows, in order: --color /
 * --no-color, FORCE_COLOR (0/false off, 1-3 a level), NO_COLOR (set and not
 * empty: off), then whether stdout is a terminal that supports colour.
 */
import {Chalk, type ChalkInstance, supportsColor} from 'chalk'
import type {Severity} from '../src/lib/severity.js'
import type {Health} from '../src/result/topology.js'

export type ColorLevel = 0 | 1 | 2 | 3

export interface ColorChoice {
  /** --color (true) or --no-color (false); undefined when neither was given. */
  flag?: boolean
  env?: NodeJS.ProcessEnv
  isTTY?: boolean
}

export function colorLevel({flag, env = process.env, isTTY = Boolean(process.stdout.isTTY)}: ColorChoice = {}): ColorLevel {
  if (flag === false) return 0
  const force = env.FORCE_COLOR
  if (force !== undefined) {
    if (force === '0' || force === 'false') return 0
    const n = Number.parseInt(force, 10)
    return (n >= 1 ? Math.min(n, 3) : Math.max(1, ttyLevel(isTTY, env))) as ColorLevel
  }
  if (flag === true) return Math.max(1, ttyLevel(isTTY, env)) as ColorLevel
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0
  return ttyLevel(isTTY, env)
}

function ttyLevel(isTTY: boolean, env: NodeJS.ProcessEnv): ColorLevel {
  if (!isTTY || env.TERM === 'dumb') return 0
  return (supportsColor ? supportsColor.level : 1) as ColorLevel
}

/** Columns to wrap to: the terminal's, else $COLUMNS, else none (pipes and files keep whole lines). */
export function outputWidth(isTTY = Boolean(process.stdout.isTTY), env: NodeJS.ProcessEnv = process.env): number {
  if (isTTY && process.stdout.columns) return process.stdout.columns
  const columns = Number.parseInt(env.COLUMNS ?? '', 10)
  return columns > 0 ? columns : Number.POSITIVE_INFINITY
}

export interface Style {
  level: ColorLevel
  c: ChalkInstance
  severity(s: Severity, text: string): string
  health(h: Health, text: string): string
  /** Commands to paste. */
  command(text: string): string
  dim(text: string): string
  bold(text: string): string
  /** Status glyphs, the same with and without colour. */
  mark: Record<'ok' | 'fail' | 'warn' | 'skip' | 'off' | 'arrow', string>
}

export function makeStyle(level: ColorLevel): Style {
  const c = new Chalk({level})
  const severity: Record<Severity, (t: string) => string> = {
    critical: (t) => c.bold.red(t),
    high: (t) => c.red(t),
    medium: (t) => c.yellow(t),
    low: (t) => c.cyan(t),
    info: (t) => c.dim(t),
  }
  const health: Record<Health, (t: string) => string> = {
    ok: (t) => c.green(t),
    warn: (t) => c.yellow(t),
    fail: (t) => c.bold.red(t),
    off: (t) => c.dim(t),
    unknown: (t) => c.dim(t),
  }
  return {
    level,
    c,
    severity: (s, t) => severity[s](t),
    health: (h, t) => health[h](t),
    command: (t) => c.green(t),
    dim: (t) => c.dim(t),
    bold: (t) => c.bold(t),
    mark: {ok: '✓', fail: '✗', warn: '!', skip: '-', off: '○', arrow: '→'},
  }
}

export const PLAIN = makeStyle(0)
