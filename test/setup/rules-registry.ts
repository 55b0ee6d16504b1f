import {execFileSync} from 'node:child_process'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

/** Vitest global setup: the rule registry written from rules/ before any test imports it (scripts/rules-registry.mjs). */
export default function setup(): void {
  execFileSync(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), '../../scripts/rules-registry.mjs')], {stdio: 'inherit'})
}
