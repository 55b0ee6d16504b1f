/**
 * Comments and docs that name a file of this repository (a test, a script, a recording) name one
 * that exists: a reference to a moved or deleted file sends the reader nowhere. Paths are read from
 * code comments (TypeScript's scanner, `#` lines of scripts) and from Markdown, and resolved from the
 * repository root or the citing file's directory (a `.js` import path may name its `.ts` source).
 */
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import ts from 'typescript'
import {describe, expect, it} from 'vitest'
import {ROOT} from './helpers.js'

const TOP = ['.ci', 'ansible', 'bench', 'bin', 'contrib', 'docs', 'fixtures', 'probes', 'reports', 'rules', 'scripts', 'src', 'test']
/** A repository path: a top-level directory, then segments; not the tail of a longer path (sos_reports/, dist-bench/bench/). */
const PATH = new RegExp(`(?<![\\w./@-])((?:${TOP.map((t) => t.replace('.', '\\.')).join('|')})/[\\w.@+-]+(?:/[\\w.@+-]+)*)(\\{[\\w.,-]+\\}|<|\\$\\{)?`, 'g')
/** Written by the build or the tests, not kept in git. */
const GENERATED = ['rules/registry.generated.ts', 'test/screenshots/out', 'test/mutation/out', 'dist', 'ansible/kvmdoctor-reports']
/** Paths a doc cites inside another repository, by the citing file. */
const ELSEWHERE: Record<string, string[]> = {'test/data/junit-xsd/README.md': ['src/main/resources/org/jenkinsci/plugins/xunit/types/model/xsd/junit-10.xsd']}
/** A placeholder segment: rules/ID.md, test/rules/ID.test.ts. */
const PLACEHOLDER = /(^|\/)(ID|NAME|N|X)(\.|\/|$)/

/** The comments of a script: TypeScript's scanner for code, `#` lines for shell. */
function commentsOf(file: string, text: string): string[] {
  if (file.endsWith('.md')) return [text]
  if (!/\.(ts|mjs|js)$/.test(file)) return text.split('\n').filter((l) => /^\s*#/.test(l))
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, text)
  const comments: string[] = []
  for (let token = scanner.scan(); token !== ts.SyntaxKind.EndOfFileToken; token = scanner.scan()) {
    if (token === ts.SyntaxKind.SingleLineCommentTrivia || token === ts.SyntaxKind.MultiLineCommentTrivia) comments.push(scanner.getTokenText())
    // A regular expression literal is one token only when the scanner is told so: `/` starts it after these.
    if (token === ts.SyntaxKind.SlashToken || token === ts.SyntaxKind.SlashEqualsToken) scanner.reScanSlashToken()
    if (token === ts.SyntaxKind.CloseBraceToken) scanner.reScanTemplateToken(false)
  }
  return comments
}

/** Whether a cited path exists from the repository root or the citing file's directory. */
function resolves(from: string, path: string): boolean {
  if (PLACEHOLDER.test(path) || GENERATED.some((g) => path === g || path.startsWith(`${g}/`)) || ELSEWHERE[from]?.includes(path)) return true
  const candidates = [path, ...(path.endsWith('.js') ? [path.replace(/\.js$/, '.ts')] : [])]
  return candidates.some((p) => existsSync(join(ROOT, p)) || existsSync(join(ROOT, dirname(from), p)))
}

/** Every dangling reference in a file, as "file: path". */
export function danglingReferences(file: string, text: string): string[] {
  return commentsOf(file, text).flatMap((comment) =>
    [...comment.matchAll(PATH)].flatMap(([, cited, tail]) => {
      // fixtures/sos-<scenario>, test/x-${name}: a pattern, not a path.
      if (tail === '<' || tail === '${') return []
      // contrib/systemd/kvmdoctor-textfile.{service,timer}: each of them.
      const paths = tail ? tail.slice(1, -1).split(',').map((ext) => cited + ext) : [cited.replace(/[.,:;]+$/, '')]
      return paths.filter((p) => !resolves(file, p)).map((p) => `${file}: ${p}`)
    }),
  )
}

const tracked = execFileSync('git', ['ls-files', '-z'], {cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024})
  .split('\0')
  .filter((f) => /\.(ts|mjs|js|sh|md)$/.test(f) || f.startsWith('.ci/'))
  // Recordings and captured data are what hosts printed, not what we wrote.
  .filter((f) => !f.startsWith('fixtures/') && !f.startsWith('test/data/samples') && existsSync(join(ROOT, f)))

describe('references to files', () => {
  it('finds a dangling reference in a comment, and none in code or in a longer path (the check is not vacuous)', () => {
    expect(danglingReferences('test/x.test.ts', '/** Replayed in test/datapath/no-such.test.ts. */\nconst p = "test/also-missing.ts"')).toEqual(['test/x.test.ts: test/datapath/no-such.test.ts'])
    expect(danglingReferences('src/x.ts', '// sos_reports/manifest.json, dist-bench/bench/run.js, test/helpers.js, rules/ID.md, fixtures/sos-<name>/')).toEqual([])
    expect(danglingReferences('README.md', 'see test/screenshots/setup.{sh,ts}')).toEqual(['README.md: test/screenshots/setup.ts'])
    expect(danglingReferences('test/x.test.ts', 'const re = /a\\/b/ // test/gone.ts')).toEqual(['test/x.test.ts: test/gone.ts'])
    expect(danglingReferences('.ci/run', '# runs test/setup/gone.sh\necho test/setup/gone.sh')).toEqual(['.ci/run: test/setup/gone.sh'])
  })

  it(`every file a comment or doc names exists (${tracked.length} files read)`, () => {
    expect(tracked.length).toBeGreaterThan(100)
    expect(tracked.flatMap((f) => danglingReferences(f, readFileSync(join(ROOT, f), 'utf8')))).toEqual([])
  })
})
