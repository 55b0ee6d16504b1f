/**
 * What a run keeps to its end on a big host is held once (issue 31: peak memory): the replay lets go of its
 * manifest's list of captures with the captures, and the checked (rule, entity) pairs share their objects.
 */
import {describe, expect, it} from 'vitest'
import {diagnose} from '../src/core/diagnose.js'
import {ReplayRunner} from '../src/core/snapshot.js'
import {fixtureDir, replayOptions} from './helpers.js'

describe('held once', () => {
  it("a replay that lets go of its captures lets go of its manifest's entries too, not of its description", async () => {
    const runner = await ReplayRunner.open(fixtureDir('bridged-healthy'))
    expect(runner.manifest.captures.length).toBeGreaterThan(10)
    expect((await runner.run(['ip', '-j', '-d', 'addr', 'show'])).output).not.toBe('')
    runner.forget()
    expect(runner.manifest.captures).toEqual([])
    expect(runner.manifest.options?.libvirtUri).toBe('qemu:///system')
  })

  it('each applicable pair is its checked pair, and each entity has one reference', async () => {
    const runner = await ReplayRunner.open(fixtureDir('bridged-healthy'))
    const d = await diagnose({runner, options: replayOptions(runner), version: 'test'})
    const checked = new Set(d.checked)
    expect(d.applicable.length).toBeGreaterThan(0)
    expect(d.applicable.filter((a) => !checked.has(a))).toEqual([])
    const refs = new Set(d.checked.map((c) => c.entity))
    expect(refs.size).toBe(new Set(d.checked.map((c) => `${c.entity.kind}:${c.entity.name}`)).size)
  })
})
