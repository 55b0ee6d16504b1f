import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {ROOT} from '../helpers.js'

/** A real listing under test/data/netfilter (see its README for how each was produced). */
export const data = (file: string) => readFileSync(join(ROOT, 'test/data/netfilter', file), 'utf8')

export const DATA_FILES = readdirSync(join(ROOT, 'test/data/netfilter')).filter((f) => /\.(txt|json)$/.test(f))

/** Recorded lab outputs of one command in every fixture: [fixture, text]. */
export function fixtureOutputs(command: RegExp): [string, string][] {
  const out: [string, string][] = []
  for (const fixture of readdirSync(join(ROOT, 'fixtures'))) {
    const dir = join(ROOT, 'fixtures', fixture, 'outputs')
    for (const f of readdirSync(dir)) if (command.test(f)) out.push([`${fixture}/${f}`, readFileSync(join(dir, f), 'utf8')])
  }
  return out
}
