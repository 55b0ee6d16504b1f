/** The probe runner's account of failed reads: a read a probe neither expects nor names leaves its result degraded. */
import {describe, expect, it} from 'vitest'
import type {Probe} from '../../probes/types.js'
import {runProbes} from '../../src/core/probe-runner.js'
import {markDegraded} from '../../src/lib/degraded.js'
import type {CommandCapture, Runner} from '../../src/lib/runner.js'

const URI = ['-r', '-c', 'qemu:///system']
/** A host where `virsh dumpxml` of the guests named in FAILING is refused, and every other command prints "ok". */
function host(failing: string[]): Runner {
  const answer = (argv: string[]): CommandCapture => {
    const base: CommandCapture = {kind: 'command', argv, output: 'ok', stderr: '', exitCode: 0, durationMs: 0, timedOut: false, truncated: false}
    return failing.includes(argv.at(-1)!) ? {...base, output: '', exitCode: 1, error: `${argv.join(' ')}: exit 1: permission denied`, errorCode: 'exit-status'} : base
  }
  return {
    capturedAt: new Date('2026-12-06T12:00:00Z'),
    run: async (argv) => answer(argv),
    readFile: async (path) => ({kind: 'file', path, output: '', durationMs: 0, truncated: false, error: 'absent', errorCode: 'not-found'}),
    listDir: async (path) => ({kind: 'dir', path, output: '', durationMs: 0, truncated: false, error: 'absent', errorCode: 'not-found'}),
  }
}

/** Reads two guests' XML and, in its own words, reports only the first one's failure: the second it drops silently. */
const speaksForOne: Probe<{guests: number}> = {
  id: 'two-guests',
  title: 'two guests',
  reads: ['virsh dumpxml GUEST'],
  async collect({runner}) {
    const [a] = await Promise.all(['web01', 'web02'].map((g) => runner.run(['virsh', ...URI, 'dumpxml', g])))
    return markDegraded({guests: 2}, a.error ? ['virsh dumpxml web01: refused'] : [])
  },
}
const options = {active: false, libvirtUri: 'qemu:///system'}

describe('probe runner: failed reads', () => {
  it("a probe's message about one read of a program does not speak for another read of it", async () => {
    const r = await runProbes([speaksForOne], host(['web01', 'web02']), options)
    const result = r['two-guests']
    expect(result.ok && result.degraded).toEqual(['virsh dumpxml web01: refused', 'virsh -r -c qemu:///system dumpxml web02: exit 1: permission denied (what it holds is unknown)'])
  })
  it('a read the probe names in its own words (options and the URI aside) is not told twice', async () => {
    const r = await runProbes([speaksForOne], host(['web01']), options)
    const result = r['two-guests']
    expect(result.ok && result.degraded).toEqual(['virsh dumpxml web01: refused'])
  })
  it('a failed read the probe neither expects nor names leaves it degraded; none leaves it whole', async () => {
    const silent = (await runProbes([speaksForOne], host(['web02']), options))['two-guests']
    expect(silent.ok && silent.degraded).toEqual(['virsh -r -c qemu:///system dumpxml web02: exit 1: permission denied (what it holds is unknown)'])
    const whole = (await runProbes([speaksForOne], host([]), options))['two-guests']
    expect(whole.ok && whole.degraded).toBeUndefined()
  })
})
