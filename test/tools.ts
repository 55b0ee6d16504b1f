/** External validators for the CI-contract tests, and recordings to run them on. */
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {cp, mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {homedir, tmpdir} from 'node:os'
import {join} from 'node:path'
import {expect, it} from 'vitest'
import {ROOT, fixtureDir} from './helpers.js'

const TOOLS = process.env.KVMDOCTOR_TOOLS ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kvmdoctor-test-tools')

/** A tool on PATH or where test/setup/install-tools.sh put it; undefined when neither. */
export function findTool(name: string): string | undefined {
  const cached = join(TOOLS, 'bin', name)
  if (existsSync(cached)) return cached
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], {encoding: 'utf8'}).trim() || undefined
  } catch {
    return undefined
  }
}

/** The command that installs each tool the suites look through or validate with (as root, from Debian). */
export const INSTALL_TOOLS = {
  chromium: 'sh test/screenshots/setup.sh',
  tmux: 'sh test/screenshots/setup.sh',
  xmllint: 'bash test/setup/install-tools.sh',
  promtool: 'bash test/setup/install-tools.sh',
  'systemd-analyze': 'apt-get install systemd',
} as const

/** CI (.ci/run) sets KD_REQUIRE_ALL_SUITES=1: there a missing tool fails the run instead of skipping its suite. */
export const REQUIRE_ALL_SUITES = process.env.KD_REQUIRE_ALL_SUITES === '1'

/**
 * Why a test or suite is skipped, as its name (the summary of skipped suites lists it, see
 * test/setup/skipped-suites.ts): a skipped validation must never look like a pass. Under
 * KD_REQUIRE_ALL_SUITES=1 a failing test is registered beside it, naming the tool and its install command.
 */
export function missingTool(name: keyof typeof INSTALL_TOOLS, pkg: string): string {
  const message = `SKIPPED: ${name} not found (Debian package ${pkg}; \`${INSTALL_TOOLS[name]}\` installs it)`
  if (REQUIRE_ALL_SUITES) it(`${name} is installed (KD_REQUIRE_ALL_SUITES=1: no suite may be skipped)`, () => expect.fail(message))
  return message
}

/** Every recording in fixtures/. */
export const RECORDINGS = readdirSync(join(ROOT, 'fixtures')).filter((n) => existsSync(join(fixtureDir(n), 'manifest.json'))).sort()

/**
 * A copy of a recording with the routing policy rules a plain host has (`ip -j rule show`, real
 * output in test/data/iproute) when it was recorded before kvmdoctor read them: with them the
 * datapath is followed and its element rules are checked.
 */
export async function withPolicyRules(name: string): Promise<string> {
  const dir = join(await mkdtemp(join(tmpdir(), 'kd-rec-')), name)
  await cp(fixtureDir(name), dir, {recursive: true})
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'))
  const argv = ['ip', '-j', 'rule', 'show']
  if (!manifest.captures.some((c: {argv?: string[]}) => c.argv?.join(' ') === argv.join(' '))) {
    const text = await readFile(join(ROOT, 'test/data/iproute/ip-j-rule-show.plain.json'), 'utf8')
    const file = 'outputs/9000-command-ip--j-rule-show.txt'
    await writeFile(join(dir, file), text)
    manifest.captures.push({kind: 'command', argv, file, bytes: Buffer.byteLength(text), durationMs: 3, truncated: false, exitCode: 0, timedOut: false})
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
  }
  return dir
}

/** A copy of a recording without the captures `drop` picks: what a run that could not read them would have. */
export async function withoutCaptures(name: string, drop: (c: {kind: string; argv?: string[]; path?: string}) => boolean): Promise<string> {
  const dir = join(await mkdtemp(join(tmpdir(), 'kd-rec-')), name)
  await cp(fixtureDir(name), dir, {recursive: true})
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'))
  const before = manifest.captures.length
  manifest.captures = manifest.captures.filter((c: {kind: string; argv?: string[]; path?: string}) => !drop(c))
  if (manifest.captures.length === before) throw new Error(`withoutCaptures(${name}): nothing matched`)
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
  return dir
}

/** A recording (with policy rules) as if its guest had come back on another tap: the name changed everywhere it was read. */
export async function withTapRenamed(name: string, from: string, to: string): Promise<string> {
  const dir = await withPolicyRules(name)
  const rename = (text: string) => text.replaceAll(from, to)
  // The output files keep their names: the manifest points at them.
  for (const file of readdirSync(join(dir, 'outputs'))) await writeFile(join(dir, 'outputs', file), rename(await readFile(join(dir, 'outputs', file), 'utf8')))
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'))
  for (const c of manifest.captures) {
    if (c.argv) c.argv = c.argv.map(rename)
    if (c.path) c.path = rename(c.path)
  }
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
  return dir
}

/** The tap libvirt gave the lab guest in a recording (its number changes with every recording). */
export function recordedTap(name: string): string {
  const dir = join(fixtureDir(name), 'outputs')
  const addr = readdirSync(dir).find((f) => f.includes('-command-ip--j--d-addr-show'))
  const tap = addr ? /"ifname":"(vnet\d+)"/.exec(readFileSync(join(dir, addr), 'utf8'))?.[1] : undefined
  if (!tap) throw new Error(`no vnetN in the link table of ${name}`)
  return tap
}
