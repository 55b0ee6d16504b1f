import {describe, expect, it} from 'vitest'
import {renderHtml} from '../reports/html.js'
import {renderMarkdown} from '../reports/markdown.js'
import {renderText} from '../reports/text.js'
import {renderTree} from '../reports/layout.js'
import {topologyTree} from '../reports/topology-text.js'
import {fixtureDir, kvmdoctorCli} from './helpers.js'
import {diagnosisOf} from './reports/recordings.js'

// Spawned CLIs on a loaded 2-core machine.
const SLOW = 120_000

describe('the CLI as a new user meets it', () => {
  it('a command given a word it takes no argument for says so, rather than "is not a kvmdoctor command"', async () => {
    for (const args of [['topology', 'web01'], ['diagnose', 'web01']]) {
      const r = await kvmdoctorCli([...args, '--from', fixtureDir('healthy')])
      expect(r.stderr, args.join(' ')).not.toContain('is not a kvmdoctor command')
    }
    const topo = await kvmdoctorCli(['topology', 'web01'])
    expect(topo.exitCode).toBe(2)
    expect(topo.stderr).toBe('kvmdoctor: kvmdoctor topology takes no arguments, not "web01" (see --help)')
  }, SLOW)

  it('a mistyped guest gets "did you mean" from trace, with exit 2; a network is named as one', async () => {
    const typo = await kvmdoctorCli(['trace', 'kdlab-web1', '--from', fixtureDir('bridged-forward-drop')])
    expect(typo.exitCode).toBe(2)
    expect(typo.stderr).toBe('kvmdoctor: no guest named "kdlab-web1". Did you mean "kdlab-web01"? (guests: kdlab-web01, kdlab-lan01)')
    const network = await kvmdoctorCli(['trace', 'default', '--from', fixtureDir('bridged-forward-drop')])
    expect(network.stderr).toBe('kvmdoctor: "default" is a network, not a guest (its guests: kdlab-web01)')
    const iface = await kvmdoctorCli(['trace', 'kdlab-web01/vnet9', '--from', fixtureDir('bridged-forward-drop')])
    expect(iface.stderr).toContain('no interface named "vnet9". Did you mean "vnet0"?')
  }, SLOW)

  it('usage lines have no empty alternatives, and name each command\'s arguments', async () => {
    const usage = async (command: string[]) => {
      const help = (await kvmdoctorCli([...command, '--help'])).stdout
      return help.slice(help.indexOf('USAGE'), help.indexOf('\n\n', help.indexOf('USAGE')))
    }
    for (const command of [['diagnose'], ['ip'], ['trace'], ['topology'], ['fix'], ['bundle'], ['fleet'], ['rules'], ['rules', 'show']]) {
      const line = await usage(command)
      expect(line, command.join(' ')).toMatch(/\$ kvmdoctor /)
      expect(line, command.join(' ')).not.toMatch(/\|\s*\]|\[\s*\||\[\s*\]/)
    }
    expect(await usage(['trace'])).toContain('$ kvmdoctor trace [GUEST] [FLAGS]')
    expect(await usage(['ip'])).toContain('$ kvmdoctor ip [GUEST...] [FLAGS]')
  }, SLOW)

  it('lists topo as an alias of topology, not as a second command', async () => {
    const help = (await kvmdoctorCli(['help'])).stdout
    const commands = help.slice(help.indexOf('COMMANDS'))
    expect(commands).not.toMatch(/^ {2}topo\s/m)
    expect(commands).toMatch(/^ {2}topology\s[\s\S]*\(alias:\s+topo\)/m)
    // The alias still runs.
    expect((await kvmdoctorCli(['topo', '--from', fixtureDir('healthy')])).exitCode).toBe(0)
  }, SLOW)

  it('reports say "1 guest" / "2 guests", never "(s)", and no internal words', async () => {
    for (const name of ['bridged-forward-drop', 'dhcp-range-exhausted', 'masquerade-removed']) {
      const d = await diagnosisOf(name)
      const texts = [renderText(d, {checks: true}), renderMarkdown(d), renderHtml(d), renderTree(topologyTree(d.topology()), Number.POSITIVE_INFINITY).join('\n')]
      for (const t of texts) {
        expect(t, name).not.toMatch(/\w\(s\)/)
        expect(t, name).not.toMatch(/\(element |seed article/)
      }
    }
  })
})
