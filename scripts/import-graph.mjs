#!/usr/bin/env node
/**
 * The import graph between kvmdoctor's directories, read with the TypeScript parser.
 * A type-only import (`import type`, or every name marked `type`) vanishes at run time:
 * it is listed apart, so rules may name core's types while core runs the rules.
 *
 *   node scripts/import-graph.mjs          directory edges, runtime and type-only
 *   node scripts/import-graph.mjs --files  every file edge
 */
import {readdirSync, readFileSync} from 'node:fs'
import {dirname, join, relative, resolve, sep} from 'node:path'
import {fileURLToPath} from 'node:url'
import ts from 'typescript'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const SOURCE_DIRS = ['src', 'probes', 'rules', 'reports']

/** The area a file belongs to: src/<dir> for src, else the top directory. */
export const areaOf = (file) => {
  const parts = file.split(sep)
  return parts[0] === 'src' ? `src/${parts[1]}` : parts[0]
}

function sourceFiles(dir, out = []) {
  for (const e of readdirSync(join(ROOT, dir), {withFileTypes: true})) {
    const path = join(dir, e.name)
    if (e.isDirectory()) sourceFiles(path, out)
    else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) out.push(path)
  }
  return out
}

const typeOnly = (node) => {
  if (ts.isImportDeclaration(node)) {
    const clause = node.importClause
    if (!clause) return false
    if (clause.isTypeOnly) return true
    const named = clause.namedBindings
    return !clause.name && named !== undefined && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly)
  }
  if (ts.isExportDeclaration(node)) {
    if (node.isTypeOnly) return true
    const named = node.exportClause
    return named !== undefined && ts.isNamedExports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly)
  }
  return false
}

/** Every relative import between source files: {from, to, typeOnly}. Dynamic import() counts as runtime. */
export function fileEdges() {
  const edges = []
  for (const file of SOURCE_DIRS.flatMap((d) => sourceFiles(d))) {
    const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true)
    const add = (specifier, isTypeOnly) => {
      if (!specifier.startsWith('.')) return
      const target = relative(ROOT, resolve(ROOT, dirname(file), specifier)).replace(/\.js$/, '.ts')
      edges.push({from: file, to: target, typeOnly: isTypeOnly})
    }
    const visit = (node) => {
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) add(node.moduleSpecifier.text, typeOnly(node))
      else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) add(node.arguments[0].text, false)
      else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) add(node.argument.literal.text, true)
      ts.forEachChild(node, visit)
    }
    visit(source)
  }
  return edges
}

/** Directory edges: "a -> b" with how many file imports, runtime and type-only. */
export function areaEdges(edges = fileEdges()) {
  const byPair = new Map()
  for (const e of edges) {
    const from = areaOf(e.from)
    const to = areaOf(e.to)
    if (from === to) continue
    const key = `${from} -> ${to}`
    const entry = byPair.get(key) ?? {from, to, runtime: 0, typeOnly: 0}
    entry[e.typeOnly ? 'typeOnly' : 'runtime']++
    byPair.set(key, entry)
  }
  return [...byPair.values()].sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to))
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const edges = fileEdges()
  if (process.argv.includes('--files')) {
    for (const e of edges) console.log(`${e.from} -> ${e.to}${e.typeOnly ? ' (type)' : ''}`)
  } else {
    for (const e of areaEdges(edges)) console.log(`${e.from} -> ${e.to}: ${e.runtime} runtime, ${e.typeOnly} type-only`)
  }
}
