// bin/run.js's main and each command and hook as one ES module, with what they share (oclif included)
// split into chunks beside them: Node loads a few files instead of resolving and loading a couple of
// hundred, a command loads only what it uses, and oclif finds commands through its manifest as before.
import {build} from 'esbuild'
import {createRequire} from 'node:module'
import {readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {QUICK_DIAGNOSE, QUICK_HELP} from '../bin/code-cache.js'

const requireHere = createRequire(import.meta.url)
const sources = (dir) => readdirSync(dir, {recursive: true}).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f))

// What every bundle is: one file for Node 20 holding its dependencies.
const forNode20 = {bundle: true, platform: 'node', target: 'node20', logLevel: 'warning'}
// ... and every ES module bundle.
const bundled = {
  ...forNode20,
  format: 'esm',
  // CommonJS dependencies call require(); an ES module has none of its own.
  banner: {js: "import {createRequire as __kvmdoctorRequire} from 'node:module'; const require = __kvmdoctorRequire(import.meta.url);"},
}
// How the CLI's bundles take their dependencies.
const dependencies = {
  // oclif reads a tsconfig with TypeScript only when run from TypeScript sources, never from here.
  external: ['typescript'],
  // fast-xml-parser's one-file CommonJS build rather than its ES module build of some thirty modules
  // (every run parses libvirt's XML): the same classes, less to load.
  alias: {'fast-xml-parser': requireHere.resolve('fast-xml-parser')},
}

await build({
  ...bundled,
  entryPoints: ['src/bin/main.ts', 'src/cli/early.ts', 'src/cli/help-class.ts', ...sources('src/commands'), ...sources('src/hooks')],
  outbase: 'src',
  outdir: 'dist',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  packages: 'bundle',
  ...dependencies,
})

// The help page alone (src/cli/quick-help.ts): oclif's help modules without the rest of oclif. Its
// help index is the only one of them that reaches beyond help; what it reaches for there serves
// paths quick-help never takes (loading a help class or a command, dynamic defaults, errors), so
// those modules are replaced: their use throws, and quick-help leaves the page to the full CLI.
const oclifRoot = dirname(requireHere.resolve('@oclif/core/package.json'))
const helpOutput = fileURLToPath(new URL('../src/cli/help-output.ts', import.meta.url))
const helpIndex = join(oclifRoot, 'lib', 'help', 'index.js')
const refused = "module.exports = new Proxy({}, {get: (_, name) => name === '__esModule' ? false : () => { throw new Error('not in the help bundle') }})"
const oclifHelpOnly = {
  name: 'oclif-help-only',
  setup(b) {
    b.onResolve({filter: /^@oclif\/core$/}, () => ({path: helpIndex}))
    b.onResolve({filter: /^\.\.\/(ux|module-loader|config\/ts-path|errors\/error|util\/cache-default-value)$/}, (args) =>
      args.importer === helpIndex ? {path: args.path, namespace: 'help-only'} : undefined,
    )
    // oclif renders every string of a page as an ejs template, compiling each one: a string with no
    // tag renders as itself, so only strings with one reach ejs (loaded for the first such string).
    b.onResolve({filter: /^ejs$/}, (args) => (args.namespace === 'help-only' ? undefined : {path: 'ejs', namespace: 'help-only'}))
    b.onResolve({filter: /^real-ejs$/}, () => ({path: requireHere.resolve('ejs')}))
    b.onLoad({filter: /.*/, namespace: 'help-only'}, (args) =>
      args.path === 'ejs'
        ? {contents: "module.exports = {render: (template, data, options) => (template.includes('<%') ? require('real-ejs').render(template, data, options) : template)}", loader: 'js'}
        : args.path === '../ux'
        ? {contents: `import {stdout} from ${JSON.stringify(helpOutput)}; export const ux = {stdout, stderr: stdout}`, loader: 'js', resolveDir: dirname(helpOutput)}
        : {contents: refused, loader: 'js'},
    )
  },
}
// The quick paths as classic scripts for bin/run.js to run with V8's code cache (bin/code-cache.js), which an ES module
// cannot take on Node 20: CommonJS bundles, holding all they load, even what they import lazily (they have no chunks),
// import.meta.url the script's own, given by its wrapper; less to read each run, and to parse where V8 refuses the
// cache (names are kept). Pure ASCII, so that bin/code-cache.js reads each as Latin-1, a copy, where a script with one
// other character is decoded as UTF-8 into a two-byte string (some 10 to 20 ms for the 2 MiB diagnose): esbuild
// escapes every such character but the text of a tagged template (`h` in reports/html.ts), whose raw text it keeps,
// unless template literals are lowered to strings (tag(["cooked"], ["raw"]), "a".concat(b)): the same values.
const classicScript = {...forNode20, format: 'cjs', define: {'import.meta.url': '__kvmdoctorUrl'}, minifyWhitespace: true, minifySyntax: true, charset: 'ascii', supported: {'template-literal': false}}
await build({...classicScript, entryPoints: ['src/cli/quick-help.ts'], outfile: fileURLToPath(QUICK_HELP.script), plugins: [oclifHelpOnly]})
// The quick diagnose a second time: its script holds its own copy of what the ES modules share.
await build({...classicScript, ...dependencies, entryPoints: ['src/cli/quick-script.ts'], outfile: fileURLToPath(QUICK_DIAGNOSE.script)})
// What esbuild leaves (a regular expression's character, as oclif's strip-ansi [\x1b\x9b]) is escaped here: \uXXXX is
// that character in a regular expression, a string, a comment and a name alike. One after a backslash, or outside the
// BMP (\uXXXX\uXXXX is no name), stops the build instead.
for (const {script} of [QUICK_HELP, QUICK_DIAGNOSE]) {
  const file = fileURLToPath(script)
  const text = readFileSync(file, 'utf8')
  const ascii = text.replace(/[^\x00-\x7f]/gu, (char, at) => {
    if (char.length > 1 || text[at - 1] === '\\') throw new Error(`${file}: ${JSON.stringify(text.slice(Math.max(0, at - 40), at + 10))}: a character the build cannot write in ASCII`)
    return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`
  })
  if (ascii !== text) writeFileSync(file, ascii)
}
// Their code caches are made by scripts/build-code-cache.mjs, after `oclif manifest`: the quick help reads the manifest.
