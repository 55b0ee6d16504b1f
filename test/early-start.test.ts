/** A live `diagnose` with the default reading starts its probes before the CLI loads (src/cli/early.ts). */
import {describe, expect, it} from 'vitest'
import Diagnose from '../src/commands/diagnose.js'
import {ANALYSIS_FLAGS, readsWithDefaults} from '../src/cli/early.js'
import {kvmdoctorCli} from './helpers.js'

describe('early start of a live diagnose', () => {
  it('starts only for diagnose with flags that shape the analysis or the report, never the reading', () => {
    for (const argv of [[], ['diagnose'], ['--format', 'json'], ['diagnose', '--format=json', '--fail-on', 'none', 'web01'], ['diagnose', '-f', 'sarif', '-o', 'r.sarif', '--checks', '--no-color'], ['diagnose', '--publish', 'web01:80/tcp', '--', '--weird-guest']]) {
      expect(readsWithDefaults(argv), argv.join(' ')).toBe(true)
    }
    for (const argv of [['ip'], ['bundle'], ['diagnose', '--from', 'x'], ['diagnose', '--timeout', '10'], ['diagnose', '-c', 'qemu:///session'], ['diagnose', '--record=/tmp/s'], ['diagnose', '--help'], ['diagnose', '-h'], ['diagnose', '--ssh', 'h'], ['diagnose', '--checks=yes'], ['--listen', '5']]) {
      expect(readsWithDefaults(argv), argv.join(' ')).toBe(false)
    }
  })

  it('knows each of diagnose\'s flags as one that shapes the reading or one that does not', () => {
    const analysis = [...ANALYSIS_FLAGS.valued, ...ANALYSIS_FLAGS.boolean]
    const flags = Object.entries(Diagnose.flags as Record<string, {char?: string; type: string}>)
    // A flag added to diagnose must be placed: left out of ANALYSIS_FLAGS, it stops the early start, as these do.
    expect(flags.filter(([name]) => !analysis.includes(name)).map(([name]) => name).sort()).toEqual(['active', 'connect', 'deadline', 'from', 'internet', 'listen', 'record', 'ssh', 'ssh-option', 'timeout'])
    for (const [name, flag] of flags.filter(([n]) => analysis.includes(n))) {
      expect(ANALYSIS_FLAGS[flag.type === 'boolean' ? 'boolean' : 'valued'].has(name), name).toBe(true)
      if (flag.char) expect(ANALYSIS_FLAGS.valued.has(flag.char) || ANALYSIS_FLAGS.boolean.has(flag.char), flag.char).toBe(true)
    }
  })

  it('reads as a run the command starts itself: the same probes, each as able to run, and the same findings', async () => {
    const early = await kvmdoctorCli(['diagnose', '--format', 'json', '--fail-on', 'none'])
    // --timeout 5 is the default reading, but a flag that may shape it: the command starts the probes itself.
    const late = await kvmdoctorCli(['diagnose', '--format', 'json', '--fail-on', 'none', '--timeout', '5'])
    const seen = (stdout: string) => {
      const r = JSON.parse(stdout) as {probes: {id: string; ok: boolean}[]; findings: {id: string}[]}
      return {probes: r.probes.map((p) => `${p.id} ${p.ok}`), findings: r.findings.map((f) => f.id).sort()}
    }
    // Whatever this host's state (CI runs this before libvirtd is up: NOT CHECKED, exit 4), both runs see the same.
    expect([0, 1, 4]).toContain(early.exitCode)
    expect(late.exitCode).toBe(early.exitCode)
    expect(seen(early.stdout)).toEqual(seen(late.stdout))
  }, 60_000)
})
