import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it, vi} from 'vitest'
import {diagnose} from '../../src/core/diagnose.js'
import {runDiagnose} from '../../src/core/diagnose-service.js'
import {ReplayRunner} from '../../src/core/snapshot.js'

const FIXTURE = new URL('../../fixtures/healthy', import.meta.url).pathname
const OPTIONS = {active: false, libvirtUri: 'qemu:///system'}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('a replay lets go of the outputs it read', () => {
  it('diagnose --from forgets the snapshot outputs once the probes ran, before the analysis, and diagnoses the same', async () => {
    const forget = vi.spyOn(ReplayRunner.prototype, 'forget')
    const configDir = await mkdtemp(join(tmpdir(), 'kvmdoctor-release-'))
    const released = await runDiagnose({from: FIXTURE, timeoutMs: 1000, options: OPTIONS, version: 'test'}, {now: () => new Date(0), configDir})
    expect(forget).toHaveBeenCalledTimes(1)
    const kept = await ReplayRunner.open(FIXTURE)
    const whole = await diagnose({runner: kept, options: kept.manifest.options ?? OPTIONS, version: 'test', now: new Date(0)})
    expect(released.findings).toEqual(whole.findings)
    expect(released.flows).toEqual(whole.flows)
    expect(released.facts).toEqual(whole.facts)
  })

  it('tells the caller once the probes have read all they read', async () => {
    const runner = await ReplayRunner.open(FIXTURE)
    const order: string[] = []
    const read = runner.run.bind(runner)
    runner.run = async (argv: string[]) => {
      order.push('read')
      return read(argv)
    }
    await diagnose({runner, options: runner.manifest.options ?? OPTIONS, version: 'test', probed: () => order.push('probed')})
    expect(order.at(-1)).toBe('probed')
    expect(order.filter((o) => o === 'probed')).toHaveLength(1)
  })

  it('a runner that forgot its captures answers none of them', async () => {
    const runner = await ReplayRunner.open(FIXTURE)
    const argv = ['ip', '-j', '-d', 'addr', 'show']
    expect((await runner.run(argv)).errorCode).toBeUndefined()
    runner.forget()
    expect((await runner.run(argv)).errorCode).toBe('not-recorded')
  })
})
