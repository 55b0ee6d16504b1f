/** Shared by the hostile-input suite: fake commands on PATH, the CLI run against them, scratch space. */
import {execa} from 'execa'
import {chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll} from 'vitest'
import type {Capture, CommandCapture, DirCapture, FileCapture, Runner} from '../../src/lib/runner.js'
import {ReplayRunner} from '../../src/core/snapshot.js'
import {NO_CONFIG_DIR, ROOT, fixtureDir} from '../helpers.js'


const scratchDirs: string[] = []

/** A new directory under the system TMPDIR, removed after the test file (some hold 100 MB inputs). */
export async function scratch(prefix = 'kd-hostile-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  scratchDirs.push(dir)
  return dir
}

afterAll(async () => {
  await Promise.all(scratchDirs.splice(0).map((dir) => rm(dir, {recursive: true, force: true})))
})

/** The commands the probes run: every one gets a fake, so a live run never reaches the real host's tools. */
export const PROBE_COMMANDS = ['ip', 'virsh', 'iptables-save', 'iptables-legacy-save', 'nft', 'ps', 'ss', 'journalctl', 'firewall-cmd', 'arp-scan']

/**
 * A directory of fake commands (POSIX sh scripts; absolute paths inside, PATH is this directory only).
 * Commands not given print nothing and exit 0, unless `others` says otherwise.
 */
export async function fakeBin(scripts: Record<string, string>, others = 'exit 0'): Promise<string> {
  const dir = await scratch('kd-bin-')
  for (const name of new Set([...PROBE_COMMANDS, ...Object.keys(scripts)])) {
    const file = join(dir, name)
    await writeFile(file, `#!/bin/sh\n${scripts[name] ?? others}\n`)
    await chmod(file, 0o755)
  }
  return dir
}

/**
 * The built CLI with PATH limited to `bin` (no real command can run) and its own TMPDIR,
 * so the test can see every temporary file it leaves.
 */
export function cli(args: string[], options: {bin?: string; tmp?: string; cwd?: string; env?: Record<string, string>; uid?: number} = {}) {
  return execa(process.execPath, [join(ROOT, 'bin/run.js'), ...args], {
    reject: false,
    stdin: 'ignore',
    cwd: options.cwd ?? ROOT,
    ...(options.uid === undefined ? {} : {uid: options.uid, gid: options.uid}),
    env: {NO_COLOR: '1', XDG_CONFIG_HOME: NO_CONFIG_DIR, PATH: options.bin ?? '/nonexistent', ...(options.tmp ? {TMPDIR: options.tmp} : {}), ...options.env},
  })
}

export async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort()
}

/** A runner over a recorded fixture whose answers a test may change (plant secrets, fail a command). */
export async function alteredFixture(
  name: string,
  change: {run?: (c: CommandCapture) => CommandCapture; readFile?: (c: FileCapture) => FileCapture; listDir?: (c: DirCapture) => DirCapture},
): Promise<{runner: Runner; options: {active: boolean; libvirtUri: string}}> {
  const inner = await ReplayRunner.open(fixtureDir(name))
  const runner: Runner = {
    capturedAt: inner.capturedAt,
    run: async (argv) => (change.run ?? ((c) => c))(await inner.run(argv)),
    readFile: async (path) => (change.readFile ?? ((c) => c))(await inner.readFile(path)),
    listDir: async (path) => (change.listDir ?? ((c) => c))(await inner.listDir(path)),
  }
  return {runner, options: inner.manifest.options ?? {active: false, libvirtUri: 'qemu:///system'}}
}

/** Writes a snapshot directory by hand: manifest entries and output files, for crafted inputs. */
export async function craftSnapshot(dir: string, captures: (Partial<Capture> & {kind: Capture['kind']; file: string; bytes?: number})[], outputs: Record<string, string | Buffer> = {}): Promise<string> {
  await mkdir(join(dir, 'outputs'), {recursive: true})
  for (const [file, text] of Object.entries(outputs)) await writeFile(join(dir, file), text)
  const manifest = {
    format: 'kvmdoctor-snapshot',
    formatVersion: 1,
    kvmdoctorVersion: 'test',
    capturedAt: '2026-11-28T10:00:00.000Z',
    options: {active: false, libvirtUri: 'qemu:///system'},
    captures: captures.map((c) => ({durationMs: 0, truncated: false, bytes: c.bytes ?? 0, ...c})),
  }
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest))
  return dir
}

/**
 * A copy of a recording with names replaced everywhere the host showed them (outputs, argv, paths), not in file
 * names; in the order given (a longer name before a name it holds).
 */
export async function renamedRecording(fixture: string, renames: Record<string, string>, options: {keepOutputs?: RegExp} = {}): Promise<string> {
  const dir = join(await scratch(), fixture)
  await cp(fixtureDir(fixture), dir, {recursive: true})
  const rename = (text: string) => Object.entries(renames).reduce((t, [from, to]) => t.replaceAll(from, to), text)
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'))
  for (const c of manifest.captures) {
    if (c.argv) c.argv = c.argv.map(rename)
    if (c.path) c.path = rename(c.path)
  }
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest))
  for (const name of await readdir(join(dir, 'outputs'))) {
    if (options.keepOutputs?.test(name)) continue
    const file = join(dir, 'outputs', name)
    await writeFile(file, rename(await readFile(file, 'utf8')))
  }
  return dir
}

/** A copy of a recording with the one output whose file name ends in `fileSuffix` rewritten (its manifest size kept right). */
export async function rewrittenRecording(fixture: string, fileSuffix: string, rewrite: (text: string) => string): Promise<string> {
  const dir = join(await scratch(), fixture)
  await cp(fixtureDir(fixture), dir, {recursive: true})
  const file = (await readdir(join(dir, 'outputs'))).find((f) => f.endsWith(fileSuffix))!
  const text = rewrite(await readFile(join(dir, 'outputs', file), 'utf8'))
  await writeFile(join(dir, 'outputs', file), text)
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'))
  for (const c of manifest.captures) if (c.file === `outputs/${file}`) c.bytes = Buffer.byteLength(text)
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest))
  return dir
}
