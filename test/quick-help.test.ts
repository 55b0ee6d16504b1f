/**
 * bin/run.js prints help pages with oclif's help classes alone (src/cli/quick-help.ts), over a
 * configuration read from the manifest: every page must be the one the full CLI prints, at any width
 * and in colour, and whatever it does not model must be left to the full CLI, untouched.
 */
import {execFileSync} from 'node:child_process'
import {join} from 'node:path'
import {afterEach, describe, expect, it, vi} from 'vitest'
// @ts-expect-error bin/ is plain JavaScript, loaded by bin/run.js.
import {QUICK_HELP, loadScript} from '../bin/code-cache.js'
import {ROOT} from './helpers.js'

interface QuickHelpModule {
  quickHelp(argv: string[], root: string, options?: {maxWidth?: number}): Promise<boolean>
}
// The script bin/run.js runs (bin/code-cache.js), loaded once.
let loaded: QuickHelpModule | undefined
const quickModule = async () => (loaded ??= loadScript(QUICK_HELP) as QuickHelpModule)

/** What quickHelp writes for ARGV (undefined: it left the request to the full CLI, having written nothing). */
async function quick(argv: string[], maxWidth?: number): Promise<string | undefined> {
  const {quickHelp} = await quickModule()
  let written = ''
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written += String(chunk)
    return true
  })
  try {
    const shown = await quickHelp(argv, ROOT, maxWidth === undefined ? {} : {maxWidth})
    expect(shown || written === '').toBe(true)
    return shown ? written : undefined
  } finally {
    write.mockRestore()
  }
}

const env = (extra: Record<string, string> = {}) => ({PATH: process.env.PATH ?? '/usr/bin:/bin', ...extra})

/** The full CLI (dist/bin/main.js, never the quick path): stdout, stderr and exit code of ARGV. */
function fullCli(argv: string[], extra: Record<string, string> = {}): {stdout: string; stderr: string; status: number} {
  const script = `const {main} = await import(${JSON.stringify(join(ROOT, 'dist/bin/main.js'))}); await main(${JSON.stringify(argv)}, ${JSON.stringify(`file://${join(ROOT, 'bin/run.js')}`)})`
  try {
    const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], {encoding: 'utf8', env: env(extra), timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe']})
    return {stdout, stderr: '', status: 0}
  } catch (error) {
    const e = error as {stdout: string; stderr: string; status: number}
    return {stdout: e.stdout, stderr: e.stderr, status: e.status}
  }
}

/** bin/run.js as a user runs it. */
function cli(argv: string[], extra: Record<string, string> = {}): {stdout: string; stderr: string; status: number} {
  try {
    const stdout = execFileSync(process.execPath, [join(ROOT, 'bin/run.js'), ...argv], {encoding: 'utf8', env: env(extra), timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe']})
    return {stdout, stderr: '', status: 0}
  } catch (error) {
    const e = error as {stdout: string; stderr: string; status: number}
    return {stdout: e.stdout, stderr: e.stderr, status: e.status}
  }
}

/**
 * oclif's own rendering of help requests at each width: Config.load and kvmdoctor's help class, as
 * oclif's run() does for a help flag (one process for all of them).
 */
function oclifPages(requests: string[][], widths: number[]): Record<string, string> {
  const script = `
    import {Config} from '@oclif/core'
    const {default: Help} = await import(${JSON.stringify(join(ROOT, 'dist/cli/help-class.js'))})
    const pages = {}
    let written = ''
    console.log = (...args) => { written += args.join(' ') + '\\n' }
    for (const argv of ${JSON.stringify(requests)}) for (const maxWidth of ${JSON.stringify(widths)}) {
      written = ''
      // A fresh Config each time, as each run has: oclif's help rewrites the ids of the commands it shows.
      const config = await Config.load(${JSON.stringify(ROOT)})
      await new Help(config, {maxWidth}).showHelp(argv)
      pages[JSON.stringify([argv, maxWidth])] = written
    }
    process.stdout.write(JSON.stringify(pages))`
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], {cwd: ROOT, encoding: 'utf8', env: env(), timeout: 120_000, maxBuffer: 64 * 1024 * 1024}))
}

describe('help pages without the full CLI', () => {
  afterEach(() => vi.restoreAllMocks())

  it('renders every page as oclif does, at every width', async () => {
    const manifest = (await import(join(ROOT, 'oclif.manifest.json'), {with: {type: 'json'}})).default as {commands: Record<string, {id: string; aliases?: string[]}>}
    const ids = Object.values(manifest.commands).flatMap((c) => [c.id, ...(c.aliases ?? [])])
    expect(ids).toEqual(expect.arrayContaining(['diagnose', 'ip', 'rules:show', 'topo']))
    const requests = [['--help'], ...ids.map((id) => [...id.split(':'), '--help'])]
    const widths = [40, 52, 80, 97, 133, 200]
    const pages = oclifPages(requests, widths)
    for (const argv of requests) {
      for (const maxWidth of widths) {
        const page = pages[JSON.stringify([argv, maxWidth])]
        expect(page.length, `${argv.join(' ')} at ${maxWidth}`).toBeGreaterThan(100)
        expect(await quick(argv, maxWidth), `${argv.join(' ')} at ${maxWidth} columns`).toBe(page)
      }
    }
    // The width is honoured: a narrow page is not the wide one.
    expect(pages[JSON.stringify([['ip', '--help'], 40])]).not.toBe(pages[JSON.stringify([['ip', '--help'], 200])])
  }, 240_000)

  it('answers the ways a user asks for help as the full CLI does, piped and in colour', async () => {
    const asks = [['--help'], ['-h'], ['help'], ['help', 'trace'], ['help', 'rules', 'show'], ['rules', 'show', '--help'], ['--json', '--help'], ['diagnose', '--format', 'json', '-h'], ['trace', 'web01', '--help'], ['topo', '-h']]
    for (const argv of asks) {
      const full = fullCli(argv)
      expect(full.status, argv.join(' ')).toBe(0)
      expect(await quick(argv), argv.join(' ')).toBe(full.stdout)
      expect(cli(argv).stdout, argv.join(' ')).toBe(full.stdout)
    }
    for (const argv of [['--help'], ['fix', '--help']]) {
      const coloured = fullCli(argv, {FORCE_COLOR: '1', OCLIF_COLUMNS: '120'})
      expect(coloured.stdout).toContain('\u001B[1m')
      expect(cli(argv, {FORCE_COLOR: '1', OCLIF_COLUMNS: '120'}).stdout, argv.join(' ')).toBe(coloured.stdout)
    }
  }, 300_000)

  it('leaves what it does not model to the full CLI, which answers as before', async () => {
    // An unknown subject, a version flag first, `--` before the flag, the help command with a flag, a command's run.
    const left = [['help', 'bogus'], ['bogus', '--help'], ['--version', '--help'], ['ip', '--from', '/nonexistent/kd', '--', '--help'], ['help', '-n'], ['rules', '--wide']]
    for (const argv of left) {
      expect(await quick(argv), argv.join(' ')).toBeUndefined()
      const full = fullCli(argv)
      const viaBin = cli(argv)
      expect(viaBin.status, argv.join(' ')).toBe(full.status)
      expect(viaBin.stdout, argv.join(' ')).toBe(full.stdout)
    }
    expect(fullCli(['help', 'bogus']).status).toBe(2)
  }, 300_000)
})
