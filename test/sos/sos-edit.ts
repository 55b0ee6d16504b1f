/**
 * Test sosreports made by editing a copy of a recorded one (a sos-* fixture): commands added to a plugin (the output
 * file where sos writes it and the manifest entry naming it), files written or edited under their sos paths.
 */
import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {sosCommandFile} from '../../src/core/sosreport.js'

export interface SosCommand {
  plugin: string
  exec: string
  output: string
  returnCode?: number
}

export interface SosEdit {
  commands?: SosCommand[]
  /** Files to write (sos path → text). */
  files?: Record<string, string>
  /** Files to edit in place (sos path → new text from the old). */
  edit?: Record<string, (text: string) => string>
  /** Copy specifications a plugin ran (sos path globs, as the manifest records them). */
  copies?: {plugin: string; spec: string}[]
  /** The sos version the sosreport says it is. */
  version?: string
}

export function editedSos(fixture: string, change: SosEdit): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'kd-sos-edit-')), 'sos')
  execFileSync('cp', ['-a', fixture, dir])
  const manifestPath = join(dir, 'sos_reports/manifest.json')
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'))
  const plugins = manifest.components.report.plugins as Record<string, {commands: unknown[]; files: unknown[]}>
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), {recursive: true})
    writeFileSync(join(dir, path), text)
  }
  for (const c of change.commands ?? []) {
    const filepath = `sos_commands/${c.plugin}/${sosCommandFile(c.exec)}`
    plugins[c.plugin] ??= {commands: [], files: []}
    plugins[c.plugin].commands.push({exec: c.exec, filepath, return_code: c.returnCode ?? 0})
    write(filepath, c.output)
  }
  for (const {plugin, spec} of change.copies ?? []) {
    plugins[plugin] ??= {commands: [], files: []}
    plugins[plugin].files.push({specification: spec, files_copied: []})
  }
  if (change.version) {
    manifest.version = change.version
    write('version.txt', `sosreport: ${change.version}\n`)
  }
  for (const [path, text] of Object.entries(change.files ?? {})) write(path, text)
  for (const [path, edit] of Object.entries(change.edit ?? {})) write(path, edit(readFileSync(join(dir, path), 'utf8')))
  writeFileSync(manifestPath, JSON.stringify(manifest))
  return dir
}
