/**
 * Recording a sosreport for the replay suite: only the files kvmdoctor read from it (and every
 * file of each directory it listed), sos's manifest cut to the commands it looked up and its copy
 * specifications, and the "skipped command" lines of sos's log. A replay of the recording reads
 * exactly what the full sosreport gave.
 */
import {mkdirSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import type {SosRunner} from '../../src/core/sosreport.js'

export function writeSosRecording(runner: SosRunner, dir: string): string[] {
  const {tree} = runner
  const {files, dirs} = tree.touched()
  const keep = new Set(files)
  for (const d of dirs) for (const name of tree.list(d) ?? []) {
    const path = d === '' ? name : `${d}/${name}`
    const r = tree.read(path)
    if ('text' in r) keep.add(path)
  }
  const written: string[] = []
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), {recursive: true})
    writeFileSync(join(dir, path), text)
    written.push(path)
  }
  for (const path of [...keep].sort()) {
    if (path === 'sos_reports/manifest.json' || path === 'sos_logs/sos.log') continue
    const r = tree.read(path)
    if ('text' in r) write(path, r.text)
  }
  const manifest = tree.read('sos_reports/manifest.json')
  if ('text' in manifest) write('sos_reports/manifest.json', JSON.stringify(trimManifest(JSON.parse(manifest.text), runner.consulted, keep), null, 1) + '\n')
  const log = tree.read('sos_logs/sos.log')
  if ('text' in log) write('sos_logs/sos.log', log.text.split('\n').filter((l) => l.includes('skipped command')).join('\n') + '\n')
  for (const d of dirs) mkdirSync(join(dir, d), {recursive: true})
  return written
}

type Json = Record<string, unknown>

function trimManifest(manifest: Json, consulted: Set<string>, kept: Set<string>): Json {
  const report = (manifest.components as Json | undefined)?.report as Json | undefined
  const plugins = (report?.plugins ?? {}) as Record<string, Json>
  const trimmed: Record<string, Json> = {}
  for (const [name, p] of Object.entries(plugins)) {
    const commands = (Array.isArray(p.commands) ? p.commands : []).filter((c: Json) => consulted.has(String(c.exec).trim().replace(/\s+/g, ' ')) || kept.has(String(c.filepath)))
    const files = (Array.isArray(p.files) ? p.files : []).map((f: Json) => ({specification: f.specification, files_copied: (f.files_copied as string[]).filter((x) => kept.has(x))}))
    trimmed[name] = {commands, files}
  }
  return {...manifest, components: {...(manifest.components as Json), report: {...report, plugins: trimmed}}}
}
