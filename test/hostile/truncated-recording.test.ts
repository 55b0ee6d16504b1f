/**
 * A capture a recording marks cut short (truncated, no error) is not read as the host: the live runner never writes
 * one (a read or a command cut at the cap carries error too-large; only a log's tail and a listen may be cut and
 * whole), so one comes from a recording edited by hand or by another tool, and its start is not the data. Replayed,
 * it is the error the live runner would have given: its probe is degraded or unavailable, the run never OK in
 * every format and the gate fails. Before: half of ss's listeners, of ipset's sets or of a sysctl's file read as
 * whole, and the run was OK with exit 0 (89 of healthy-harmless-extras' 107 captures so cut).
 */
import {cp, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {type Format, render} from '../../reports/index.js'
import {diagnose} from '../../src/core/diagnose.js'
import {gateDecision} from '../../src/core/gate.js'
import {ReplayRunner} from '../../src/core/snapshot.js'
import {fixtureDir, replayOptions} from '../helpers.js'
import {scratch} from './helpers.js'

const FIXTURE = 'healthy-harmless-extras'

/** The recording with one capture's output cut in half and marked truncated, as a hand edit leaves it. */
async function cutRecording(matches: (entry: {argv?: string[]; path?: string}) => boolean, keep = (text: string) => text.slice(0, Math.floor(text.length / 2))): Promise<string> {
  const dir = join(await scratch(), FIXTURE)
  await cp(fixtureDir(FIXTURE), dir, {recursive: true})
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'))
  const entry = manifest.captures.find(matches)
  const kept = keep(await readFile(join(dir, entry.file), 'utf8'))
  await writeFile(join(dir, entry.file), kept)
  Object.assign(entry, {bytes: Buffer.byteLength(kept), truncated: true})
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest))
  return dir
}

async function diagnosisOfDir(dir: string) {
  const runner = await ReplayRunner.open(dir)
  return diagnose({runner, options: replayOptions(runner), version: 'test'})
}

describe('a capture recorded cut short is not the host', () => {
  it('the recording as it is: OK, exit 0 (the control)', async () => {
    const d = await diagnosisOfDir(fixtureDir(FIXTURE))
    expect(d.verdict.status).toBe('ok-host-side')
    expect(gateDecision(d, 'low').exitCode).toBe(0)
  })

  it.each([
    ['ss -H -lunpt (the listeners: who holds port 53 and 67)', (e: {argv?: string[]}) => e.argv?.[0] === 'ss'],
    ['ipset list', (e: {argv?: string[]}) => e.argv?.[0] === 'ipset'],
    ["virbr0's rp_filter", (e: {path?: string}) => e.path === '/proc/sys/net/ipv4/conf/virbr0/rp_filter'],
    ['/var/lib/libvirt/dnsmasq (the lease files listed)', (e: {path?: string}) => e.path === '/var/lib/libvirt/dnsmasq'],
  ])('%s cut: not checked (or undecided) with the reason in every format, never OK; the gate fails', async (_what, matches) => {
    const d = await diagnosisOfDir(await cutRecording(matches))
    const gate = gateDecision(d, 'low')
    expect(gate.exitCode).not.toBe(0)
    expect(d.verdict.status).not.toMatch(/^ok/)
    expect(d.verdict.unread.join('\n')).toMatch(/could not be read|read in part/)
    const out = async (f: Format) => render(d, f, {showSuppressed: false, gate})
    expect(await out('text')).toContain('recorded cut short')
    expect(await out('text')).not.toMatch(/✓ OK/)
    expect(JSON.stringify(JSON.parse(await out('json')))).toContain('recorded cut short')
    expect(JSON.parse(await out('json')).verdict.status).toBe(d.verdict.status)
    expect(JSON.parse(await out('sarif')).runs[0].invocations[0].executionSuccessful).toBe(false)
    expect(await out('md')).not.toMatch(/✓ OK/)
  })

  it("a log's tail stays a tail: the log recorded cut is still read (the logs probe asks for its end only)", async () => {
    const d = await diagnosisOfDir(await cutRecording((e) => e.path === '/var/log/libvirt/libvirtd.log', (t) => t))
    expect(d.verdict.status).toBe('ok-host-side')
  })
})
