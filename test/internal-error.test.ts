import {Config} from '@oclif/core'
import {afterEach, describe, expect, it, vi} from 'vitest'
import Diagnose from '../src/commands/diagnose.js'
import {ROOT} from './helpers.js'

// A bug inside kvmdoctor (not bad input): the service throws something that is not a UserError.
vi.mock('../src/core/diagnose-service.js', () => ({
  runDiagnose: async () => {
    throw new TypeError('simulated bug')
  },
}))

describe('exit code 3: kvmdoctor itself failed', () => {
  afterEach(() => {
    process.exitCode = undefined
    vi.restoreAllMocks()
  })

  async function run(args: string[]) {
    const out: string[] = []
    const err: string[] = []
    // oclif writes through console.log / console.error
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void out.push(`${args.join(' ')}\n`))
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void err.push(`${args.join(' ')}\n`))
    const config = await Config.load(ROOT)
    await Diagnose.run(args, config)
    const code = process.exitCode
    vi.restoreAllMocks()
    return {code, stdout: out.join(''), stderr: err.join('')}
  }

  it('says it is an internal error, without a stack trace unless asked', async () => {
    const r = await run(['--from', 'whatever'])
    expect(r.code).toBe(3)
    expect(r.stderr).toBe('kvmdoctor: internal error: simulated bug (KVMDOCTOR_DEBUG=1 shows the stack)\n')
  })

  it('in --json mode prints an error object and sets the exit code instead of throwing', async () => {
    const r = await run(['--from', 'whatever', '--json'])
    expect(r.code).toBe(3)
    expect(JSON.parse(r.stdout)).toEqual({error: {code: 3, message: 'simulated bug'}})
  })
})
