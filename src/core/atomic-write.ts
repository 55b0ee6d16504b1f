import {randomBytes} from 'node:crypto'
import {rename, rm, writeFile} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

/**
 * Writes a file so that a reader sees the old content or the new, never half:
 * into a hidden temporary file in the target's own directory (rename is atomic
 * only within one filesystem), then renamed over the target. The temporary
 * name does not end in the target's extension, so node_exporter's textfile
 * collector (which reads *.prom) never picks it up.
 */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  try {
    await writeFile(temp, data, {flag: 'wx'})
    await rename(temp, path)
  } catch (error) {
    await rm(temp, {force: true})
    throw error
  }
}
