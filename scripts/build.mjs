// bin/run.js's main and each command and hook as one ES module, with what they share (oclif included)
// split into chunks beside them: Node loads a few files instead of resolving and loading a couple of
// hundred, a command loads only what it uses, and oclif finds commands through its manifest as before.
import {build} from 'esbuild'
import {readdirSync} from 'node:fs'
import {join} from 'node:path'

const sources = (dir) => readdirSync(dir, {recursive: true}).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f))

await build({
  entryPoints: ['src/bin/main.ts', ...sources('src/commands'), ...sources('src/hooks')],
  outbase: 'src',
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  packages: 'bundle',
  // oclif reads a tsconfig with TypeScript only when run from TypeScript sources, never from here;
  // lzma-native loads its prebuilt liblzma binding from its own directory: it stays in node_modules.
  external: ['typescript', 'lzma-native'],
  // CommonJS dependencies call require(); an ES module has none of its own.
  banner: {js: "import {createRequire as __kvmdoctorRequire} from 'node:module'; const require = __kvmdoctorRequire(import.meta.url);"},
  logLevel: 'warning',
})
