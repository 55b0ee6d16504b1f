/**
 * A read that fails or is cut never leaves a pass behind: on every recording, each read the probes make (one of each
 * kind: the same sysctl of another interface, the same virsh call for another guest, count once) is made to fail
 * (permission denied) and, separately, to stop at the size cap. Then
 * - no flow that failed or was undecided on the whole recording passes (but for what only the wire witnessed);
 * - the verdict is not OK (or OK of the host side), unless a probe takes that failure as a state of the host
 *   (`expectedFailure`: OVS not started, a guest without its agent, a log the host does not keep).
 * Found this way: unreadable sysctls and a failed `nft -a` left the run OK; an unread conntrack count, lease file or
 * dhcpd.conf turned failing flows into passes.
 */
import {readdirSync, existsSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {ALL_PROBES} from '../../probes/index.js'
import {diagnose} from '../../src/core/diagnose.js'
import {ReplayRunner} from '../../src/core/snapshot.js'
import type {Capture, Runner} from '../../src/lib/runner.js'
import {ROOT} from '../helpers.js'

const FIXTURES = readdirSync(join(ROOT, 'fixtures')).filter((n) => existsSync(join(ROOT, 'fixtures', n, 'manifest.json'))).sort()
const NOW = new Date('2026-12-01T00:00:00Z')

const label = (c: Capture) => (c.kind === 'command' ? c.argv.join(' ') : `${c.kind}:${c.path}`)
/** One read of each kind: interface, guest, network and device names stand for any. */
const kindOf = (c: Capture) => label(c).replace(/\/conf\/[^/]+\//, '/conf/IF/').replace(/(dumpxml|domifaddr|domiflist|net-dumpxml|dev|-I|-i) \S+/g, '$1 X').replace(/\/(qemu|network|dnsmasq)\/[^/]+$/, '/$1/X').replace(/ \(.*$/s, '')

const ALTERATIONS = {
  failed: (c: Capture): Capture =>
    c.kind === 'command'
      ? {...c, output: '', stderr: 'permission denied\n', exitCode: 1, error: `${label(c)}: exit 1: permission denied`, errorCode: 'permission-denied'}
      : {...c, output: '', error: `${c.path}: permission denied`, errorCode: 'permission-denied'},
  cut: (c: Capture): Capture => ({...c, output: c.output.slice(0, Math.floor(c.output.length / 2)), truncated: true, error: `${label(c)}: output over the cap, stopped (only its start was kept)`, errorCode: 'too-large'}),
}

function altered(inner: ReplayRunner, seen: Capture[] | undefined, change?: {key: string; alter: (c: Capture) => Capture}): Runner {
  const pass = <T extends Capture>(c: T): T => {
    seen?.push(c)
    return (change && label(c) === change.key ? change.alter(c) : c) as T
  }
  return {
    capturedAt: inner.capturedAt,
    run: async (argv) => pass(await inner.run(argv)),
    readFile: async (path) => pass(await inner.readFile(path)),
    listDir: async (path) => pass(await inner.listDir(path)),
  }
}

const OK = new Set(['ok', 'ok-host-side'])
const flowKey = (f: {guest: string; iface: string; kind: string; description: string}) => `${f.guest} ${f.iface} ${f.kind}: ${f.description}`

describe('a failed or cut read leaves no pass behind', () => {
  it.each(FIXTURES)('%s', async (fixture) => {
    const inner = await ReplayRunner.open(join(ROOT, 'fixtures', fixture))
    const options = inner.manifest.options ?? {active: false, libvirtUri: 'qemu:///system'}
    const seen: Capture[] = []
    const whole = await diagnose({runner: altered(inner, seen), options, version: 'test', now: NOW})
    const unproven = new Set(whole.flows.filter((f) => f.verdict !== 'pass').map(flowKey))
    const kinds = new Map<string, Capture>()
    for (const c of seen) if (c.error === undefined && !kinds.has(kindOf(c))) kinds.set(kindOf(c), c)
    expect(kinds.size).toBeGreaterThan(10)
    const problems: string[] = []
    for (const capture of kinds.values()) {
      for (const [how, alter] of Object.entries(ALTERATIONS)) {
        if (how === 'cut' && capture.output.length < 2) continue
        const d = await diagnose({runner: altered(inner, undefined, {key: label(capture), alter}), options, version: 'test', now: NOW})
        const where = `${label(capture)} ${how}`
        // What the wire heard (--listen) is a witness added to the host's state: a listen that failed leaves the flows as a
        // run without --listen judges them (the run itself is then not OK).
        const witness = capture.kind === 'command' && capture.argv[0] === 'tcpdump'
        if (!witness) for (const f of d.flows) if (f.verdict === 'pass' && unproven.has(flowKey(f))) problems.push(`${where}: ${flowKey(f)} passes (${whole.flows.find((w) => flowKey(w) === flowKey(f))!.verdict} when read whole)`)
        if (OK.has(d.verdict.status) && !ALL_PROBES.some((p) => p.expectedFailure?.(alter(capture)))) problems.push(`${where}: verdict ${d.verdict.status}`)
      }
    }
    expect(problems).toEqual([])
  })
})
