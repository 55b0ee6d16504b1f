import {bundleReports} from '../reports/bundle-files.js'
import {mkdtemp, readFile, readdir} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import * as tar from 'tar'
import {describe, expect, it} from 'vitest'
import {createBundle} from '../src/core/bundle.js'
import type {CommandCapture, Runner} from '../src/lib/runner.js'
import {ReplayRunner} from '../src/core/snapshot.js'
import {ROOT, fixtureDir, replayOptions} from './helpers.js'

const KEY = Buffer.alloc(32, 9)

async function textOf(bundle: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kd-wire-redact-'))
  await tar.x({file: bundle, cwd: dir})
  const out: string[] = []
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, {withFileTypes: true})) {
      if (e.isDirectory()) await walk(join(d, e.name))
      else out.push(await readFile(join(d, e.name), 'utf8'))
    }
  }
  await walk(dir)
  return out.join('\n')
}

describe('--redact covers what the wire recorded (--listen)', () => {
  it('hostnames, client ids, addresses and MACs beyond the vendor prefix are replaced in the capture text', async () => {
    const inner = await ReplayRunner.open(fixtureDir('wire-silent'))
    // web01's tap, heard saying what a real client says: its hostname, its client id, its link-local address.
    const heard = (await readFile(join(ROOT, 'test/data/wire/dhcp-unanswered.vv.txt'), 'utf8')).replaceAll('52:54:00:aa:00:02', '52:54:00:6b:64:01')
    const runner: Runner = {
      capturedAt: inner.capturedAt,
      async run(argv): Promise<CommandCapture> {
        const c = await inner.run(argv)
        return argv[0] === 'tcpdump' && argv.includes('-vv') && argv.at(-1)!.includes('52:54:00:6b:64:01') ? {...c, output: heard} : c
      },
      readFile: (path) => inner.readFile(path),
      listDir: (path) => inner.listDir(path),
    }
    const made = await createBundle({runner, options: replayOptions(inner), version: 'test', output: join(await mkdtemp(join(tmpdir(), 'kd-wire-')), 'r.tar.gz'), redact: true, redactionKey: KEY, reports: bundleReports})
    const all = await textOf(made.path)
    for (const secret of ['kdcli', 'aa:bb:cc:dd:ee:ff', '52:54:00:6b:64:01', '52:54:00:6b:64:51', 'fe80::5054:ff:fe6b:6401', '192.168.122.190']) expect(all, `${secret} left in the bundle`).not.toContain(secret)
    // The shape stays: the capture still reads as tcpdump, vendor prefixes kept, the verdicts unchanged.
    expect(all).toMatch(/Hostname \(12\), length 5: "client-\d+"/)
    expect(all).toMatch(/Client-ID \(61\), length 7: ether aa:bb:cc:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}/)
    expect(all).toMatch(/52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2} > ff:ff:ff:ff:ff:ff/)
    expect(made.diagnosis.findings.map((f) => f.id)).toContain('guest-silent')
  })
})
