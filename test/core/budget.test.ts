import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {readRegularFileSync} from '../../src/core/budget.js'

const MiB = 1024 * 1024

/** SIZE bytes of ASCII lines with UTF-8 characters, truncated and stray sequences between them, at every offset. */
function mixedBytes(size: number): Buffer {
  const pieces = [Buffer.from('-A FORWARD -m comment --comment "é ☃ 🐧" -j ACCEPT\n'), Buffer.from([0xe2, 0x98]), Buffer.from('x'), Buffer.from([0x80, 0xbf, 0xf0, 0x9f, 0x90]), Buffer.from('\n')]
  const out = Buffer.alloc(size)
  for (let at = 0, k = 0; at < size; k++) at += pieces[k % pieces.length].copy(out, at)
  return out
}

describe('readRegularFileSync', () => {
  it('reads a file larger than its piece as Buffer#toString decodes it whole, whatever straddles a piece', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kd-budget-'))
    // Non-ASCII runs longer than a piece, too: nothing to cut at until they end.
    const bytes = Buffer.concat([mixedBytes(3 * MiB + 17), Buffer.alloc(2 * MiB + 5, 0xc3), Buffer.from('tail')])
    await writeFile(join(dir, 'big.txt'), bytes)
    expect(readRegularFileSync(join(dir, 'big.txt'), {maxBytes: 64 * MiB, label: 'big.txt'}) === bytes.toString('utf8')).toBe(true)
  })

  it('reads each file alone, whatever the files read before it (big, small, empty, non-ASCII)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kd-budget-'))
    const files = [mixedBytes(MiB + 3), Buffer.from('short'), Buffer.alloc(0), mixedBytes(70 * 1024), Buffer.from('ab'), mixedBytes(MiB), Buffer.from([0xc3])]
    for (const [i, bytes] of files.entries()) await writeFile(join(dir, `${i}.txt`), bytes)
    for (const [i, bytes] of files.entries()) expect(readRegularFileSync(join(dir, `${i}.txt`), {maxBytes: 64 * MiB, label: `${i}.txt`}) === bytes.toString('utf8')).toBe(true)
  })

  it('refuses a large file over the limit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kd-budget-'))
    await writeFile(join(dir, 'big.txt'), mixedBytes(2 * MiB))
    expect(() => readRegularFileSync(join(dir, 'big.txt'), {maxBytes: MiB + 10, label: 'big.txt'})).toThrow('big.txt: is 2.0 MiB, over the 1.0 MiB limit')
  })
})
