// bin/run.js's main and each command and hook as one ES module, with what they share (oclif included)
// split into chunks beside them: Node loads a few files instead of resolving and loading a couple of
// hundred, a command loads only what it uses, and oclif finds commands through its manifest as before.
import {build} from 'esbuild'
import {createRequire} from 'node:module'
import {readdirSync} from 'node:fs'
import {join} from 'node:path'

const sources = (dir) => readdirSync(dir, {recursive: true}).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f))

await build({
  entryPoints: ['src/bin/main.ts', 'src/cli/help-class.ts', ...sources('src/commands'), ...sources('src/hooks')],
  outbase: 'src',
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  packages: 'bundle',
  // oclif reads a tsconfig with TypeScript only when run from TypeScript sources, never from here.
  external: ['typescript'],
  // fast-xml-parser's one-file CommonJS build rather than its ES module build of some thirty modules
  // (every run parses libvirt's XML): the same classes, less to load.
  alias: {'fast-xml-parser': createRequire(import.meta.url).resolve('fast-xml-parser')},
  // CommonJS dependencies call require(); an ES module has none of its own.
  banner: {js: "import {createRequire as __kvmdoctorRequire} from 'node:module'; const require = __kvmdoctorRequire(import.meta.url);"},
  logLevel: 'warning',
})
