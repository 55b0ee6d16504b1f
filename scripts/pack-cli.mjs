// The bundled CLI as one archive to install on hosts that have Node 20+ but no npm access (what the
// Ansible role in ansible/ installs): kvmdoctor-cli.tar.gz holds kvmdoctor-VERSION/ with bin/, dist/
// (esbuild's bundle: oclif and the other dependencies inside), rules/*.md, package.json and the
// oclif manifest, plus node_modules for the few modules dist/ still loads at run time (those it
// requires through createRequire, such as fast-xml-parser's one-file build) and theirs.
//   node scripts/pack-cli.mjs [OUTPUT]   (after npm run build; default OUTPUT: kvmdoctor-cli.tar.gz)
import {cp, mkdir, mkdtemp, readFile, readdir, rm} from 'node:fs/promises'
import {existsSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import * as tar from 'tar'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const output = resolve(process.argv[2] ?? 'kvmdoctor-cli.tar.gz')
const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'))

/** Every .js file under dir. */
async function scripts(dir) {
  const entries = await readdir(dir, {recursive: true, withFileTypes: true})
  return entries.filter((e) => e.isFile() && e.name.endsWith('.js')).map((e) => join(e.parentPath, e.name))
}

/** Packages the bundle loads at run time: what it requires through createRequire (esbuild cannot see into those calls). */
async function runtimePackages() {
  const names = new Set()
  for (const file of await scripts(join(ROOT, 'dist'))) {
    for (const m of (await readFile(file, 'utf8')).matchAll(/createRequire\(import\.meta\.url\)\("([^"]+)"\)/g)) {
      if (!m[1].startsWith('node:') && !m[1].startsWith('.')) names.add(m[1].startsWith('@') ? m[1].split('/').slice(0, 2).join('/') : m[1].split('/')[0])
    }
  }
  return names
}

/** Where node finds a package from a directory: the nearest node_modules/NAME up the tree (its exports may hide package.json from require.resolve). */
function packageDir(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules', name, 'package.json'))) return join(dir, 'node_modules', name)
    if (dir === dirname(dir)) throw new Error(`${name}: not installed (npm ci first)`)
  }
}

/** A package and its dependencies, as node resolves them from here: name -> directory. */
async function closure(names) {
  const found = new Map()
  const visit = async (name, from) => {
    if (found.has(name)) return
    const dir = packageDir(name, from)
    found.set(name, dir)
    const {dependencies = {}} = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'))
    for (const dep of Object.keys(dependencies)) await visit(dep, dir)
  }
  for (const name of names) await visit(name, ROOT)
  return found
}

const work = await mkdtemp(join(tmpdir(), 'kvmdoctor-pack-'))
try {
  const top = `kvmdoctor-${pkg.version}`
  const stage = join(work, top)
  await mkdir(join(stage, 'rules'), {recursive: true})
  for (const part of ['bin', 'dist', 'package.json', 'oclif.manifest.json']) await cp(join(ROOT, part), join(stage, part), {recursive: true})
  for (const doc of (await readdir(join(ROOT, 'rules'))).filter((f) => f.endsWith('.md'))) await cp(join(ROOT, 'rules', doc), join(stage, 'rules', doc))
  const packages = await closure(await runtimePackages())
  for (const [name, dir] of packages) await cp(dir, join(stage, 'node_modules', name), {recursive: true})
  await tar.c({gzip: true, file: output, cwd: work, portable: true}, [top])
  console.log(`${output}: ${top}/ with ${packages.size} run-time package(s): ${[...packages.keys()].join(', ') || 'none'}`)
} finally {
  await rm(work, {recursive: true, force: true})
}
