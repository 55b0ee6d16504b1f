/**
 * Text layout measured in terminal columns (string-width: wide characters and
 * colour codes count right): wrapped lines with hanging indents, trees, and
 * tables that fit a width by dropping, then folding, columns by priority.
 */
import Table from 'cli-table3'
import stringWidth from 'string-width'
import wrapAnsi from 'wrap-ansi'
import {PLAIN, type Style} from './style.js'

export {stringWidth}

/**
 * A line of a block. Prose wraps to the width: after its label ("evidence: ", or
 * its own leading spaces), continuing under the label (or `hang` columns).
 * Commands (`keep`) never break: a pasted command must be one line.
 */
export interface Line {
  text: string
  label?: string
  hang?: number
  keep?: boolean
}

const spaces = (n: number) => ' '.repeat(Math.max(0, n))

export function wrapLine(line: Line | string, width: number): string[] {
  const {text, label, hang, keep = false} = typeof line === 'string' ? {text: line} : line
  const whole = (label ?? '') + text
  if (keep || !Number.isFinite(width) || stringWidth(whole) <= width) return [whole]
  const prefix = label ?? /^ */.exec(text)![0]
  const body = label === undefined ? text.slice(prefix.length) : text
  const indent = hang ?? stringWidth(prefix)
  return wrapAnsi(body, Math.max(10, width - Math.max(indent, stringWidth(prefix))), {hard: true, trim: true})
    .split('\n')
    .map((l, i) => (i === 0 ? prefix : spaces(indent)) + l)
}

export interface TreeNode {
  /** The first line is the node's head; the others are its body, drawn under it. */
  lines: (Line | string)[]
  children: TreeNode[]
}

/** Roots flush left, children on ├─ / └─ branches, bodies continued on the branch's stem. */
export function renderTree(roots: TreeNode[], width: number, style: Style = PLAIN): string[] {
  const out: string[] = []
  const dim = (s: string) => style.dim(s)
  const draw = (node: TreeNode, first: string, rest: string) => {
    const stem = node.children.length > 0 ? '│  ' : '   '
    node.lines.forEach((line, i) => {
      const lead = i === 0 ? first : rest + stem
      const follow = rest + stem
      const wrapped = wrapLine(line, width - stringWidth(i === 0 ? first : follow))
      wrapped.forEach((w, j) => out.push(dim(j === 0 ? lead : follow) + w))
    })
    node.children.forEach((c, k) => {
      const last = k === node.children.length - 1
      draw(c, rest + (last ? '└─ ' : '├─ '), rest + (last ? '   ' : '│  '))
    })
  }
  for (const r of roots) draw(r, '', '')
  return out
}

export interface Column {
  header: string
  /** 1 is kept at any width; higher numbers are dropped first. */
  priority: number
  /** Folds (wraps between words) down to this many columns, or its longest word, before anything is dropped; unset: never folds. */
  min?: number
}

export interface TableResult {
  lines: string[]
  hidden: string[]
}

const GAP = 2

/**
 * A borderless table no wider than `width`: columns that do not fit are dropped
 * lowest priority first, foldable ones wrap down to their minimum. `wide` keeps
 * every column at its natural width.
 */
export function renderTable(columns: Column[], rows: string[][], options: {width: number; wide?: boolean; style?: Style}): TableResult {
  const style = options.style ?? PLAIN
  const natural = columns.map((c, i) => Math.max(stringWidth(c.header), ...rows.map((r) => Math.max(0, ...String(r[i] ?? '').split('\n').map((l) => stringWidth(l))))))
  // A column folds between words, never inside one: its longest word is as narrow as it gets.
  const longestWord = columns.map((c, i) => Math.max(stringWidth(c.header), ...rows.flatMap((r) => String(r[i] ?? '').split(/\s+/).map((w) => stringWidth(w)))))
  const minOf = (i: number) => (columns[i].min === undefined ? natural[i] : Math.min(natural[i], Math.max(columns[i].min!, longestWord[i])))
  let visible = columns.map((_, i) => i)
  const fits = (idx: number[], widthOf: (i: number) => number) => idx.reduce((s, i) => s + widthOf(i), 0) + GAP * (idx.length - 1) <= options.width
  if (!options.wide && Number.isFinite(options.width)) {
    while (visible.length > 1 && !fits(visible, minOf)) {
      const drop = [...visible].filter((i) => columns[i].priority > 1).sort((a, b) => columns[b].priority - columns[a].priority || b - a)[0]
      if (drop === undefined) break
      visible = visible.filter((i) => i !== drop)
    }
  }
  const widths = new Map(visible.map((i) => [i, natural[i]]))
  if (!options.wide && Number.isFinite(options.width)) {
    let excess = visible.reduce((s, i) => s + natural[i], 0) + GAP * (visible.length - 1) - options.width
    // Fold the widest foldable columns first, never below their minimum.
    while (excess > 0) {
      const candidates = visible.filter((i) => columns[i].min !== undefined && widths.get(i)! > minOf(i)).sort((a, b) => widths.get(b)! - widths.get(a)!)
      if (candidates.length === 0) break
      widths.set(candidates[0], widths.get(candidates[0])! - 1)
      excess--
    }
  }
  const table = new Table({
    chars: {top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: spaces(GAP)},
    style: {head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true},
    colWidths: visible.map((i) => widths.get(i)!),
    wordWrap: false,
  })
  const fold = (text: string, i: number) => (widths.get(i)! < natural[i] ? wrapAnsi(text, widths.get(i)!, {hard: true, trim: true}) : text)
  table.push(visible.map((i) => style.bold(columns[i].header)))
  for (const r of rows) table.push(visible.map((i) => fold(String(r[i] ?? ''), i)))
  const lines = table.toString().split('\n').map((l) => l.trimEnd())
  return {lines, hidden: columns.filter((_, i) => !visible.includes(i)).map((c) => c.header)}
}
