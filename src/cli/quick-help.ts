/**
 * `--help` without loading the CLI: oclif's own Help and kvmdoctor's help class (src/cli/help-class.ts)
 * render the page, over a configuration read from oclif.manifest.json and package.json instead of
 * oclif's Config.load. scripts/build.mjs bundles this file alone with oclif's help modules only
 * (not oclif's parser, config loader, spinners or error printer), so a help page costs a fraction of
 * a command's start-up. Anything this configuration does not model (an unknown command or topic, a
 * flag whose default is computed, deprecation, a theme, a manifest of another version) answers
 * "not handled" before a byte is written, and bin/run.js runs the full CLI, which prints the same.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {type Command, type Config, type Interfaces, type Plugin} from '@oclif/core'
import KvmdoctorHelp from './help-class.js'
import {helpOutput} from './help-output.js'
import {routedArgv} from './routing.js'

/** The part of oclif's plugin manifest this reads. */
interface Manifest {
  commands: Record<string, Command.Cached>
  version: string
}

/** What a help page may hold that this configuration does not model: the full CLI renders those. */
function unmodelled(pjson: Interfaces.PJSON, commands: Command.Cached[]): boolean {
  const oclif = pjson.oclif as Interfaces.PJSON['oclif'] & {theme?: unknown; state?: unknown; helpOptions?: unknown; plugins?: unknown[]; topics?: unknown; flexibleTaxonomy?: unknown}
  if (oclif.theme !== undefined || oclif.state !== undefined || oclif.topics !== undefined || oclif.flexibleTaxonomy) return true
  if ((oclif.plugins ?? []).length > 0 || oclif.helpOptions !== undefined) return true
  return commands.some((c) => c.hasDynamicHelp || c.state !== undefined || c.deprecationOptions !== undefined || c.deprecateAliases)
}

/** The fields of oclif's Config that its help classes read, built as Config.load builds them for one plugin. */
function helpConfig(root: string): Config | undefined {
  const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Interfaces.PJSON & {name: string; version: string}
  let manifest: Manifest
  try {
    manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8')) as Manifest
  } catch {
    return undefined
  }
  // oclif ignores a manifest written for another version and reads the commands themselves.
  if (manifest.version !== pjson.version) return undefined
  const canonical = Object.values(manifest.commands)
  if (unmodelled(pjson, canonical)) return undefined
  const topicSeparator = pjson.oclif.topicSeparator ?? ':'
  const commands = new Map<string, Command.Loadable>()
  const load = async (): Promise<never> => {
    throw new Error('a command is loaded only by the full CLI')
  }
  for (const c of canonical) {
    const command = {...c, pluginName: pjson.name, pluginType: 'core', load} as Command.Loadable
    if (!commands.has(c.id)) commands.set(c.id, command)
    for (const [alias, hidden] of [...(c.aliases ?? []).map((a) => [a, false] as const), ...(c.hiddenAliases ?? []).map((a) => [a, true] as const)]) {
      const id = alias.replaceAll(topicSeparator, ':')
      if (!commands.has(id)) commands.set(id, {...command, hidden, id})
    }
  }
  // Config.loadTopics: every prefix of a visible command's id is a topic, described by the first such command.
  const topics = new Map<string, Interfaces.Topic>()
  for (const c of canonical.filter((x) => !x.hidden)) {
    const parts = c.id.split(':')
    for (; parts.length > 0; parts.pop()) {
      const name = parts.join(':')
      if (!topics.has(name)) topics.set(name, {description: c.summary || c.description, name})
    }
  }
  const plugin = {name: pjson.name, pjson} as unknown as Plugin
  return {
    arch: process.arch,
    bin: pjson.oclif.bin ?? pjson.name,
    commandIDs: [...commands.keys()],
    commands: [...commands.values()],
    findCommand: (id: string) => commands.get(id),
    findTopic: (id: string) => topics.get(id),
    flexibleTaxonomy: false,
    isSingleCommandCLI: false,
    name: pjson.name,
    pjson,
    platform: process.platform,
    plugins: new Map([[pjson.name, plugin]]),
    root,
    shell: 'bash',
    topicSeparator,
    topics: [...topics.values()],
    userAgent: `${pjson.name}/${pjson.version} ${process.platform}-${process.arch} node-${process.version}`,
    version: pjson.version,
    windows: process.platform === 'win32',
  } as unknown as Config
}

/** oclif's test for a help request: a help flag before `--` (run), or the `help` command with subjects only. */
function helpArgv(argv: string[], helpFlags: string[]): string[] | undefined {
  for (const arg of argv) {
    if (arg === '--') break
    if (helpFlags.includes(arg)) return argv
  }
  if (argv[0] === 'help' && argv.slice(1).every((a) => !a.startsWith('-'))) return argv.slice(1)
  return undefined
}

/**
 * Prints the help page ARGV (the CLI's arguments) asks for and returns true, or returns false, having
 * written nothing, when ARGV asks for something else or for a page only the full CLI renders.
 * ROOT is the package's directory; OPTIONS are oclif's help options (maxWidth: the terminal's by default).
 */
export async function quickHelp(argv: string[], root: string, options: Partial<Interfaces.HelpOptions> = {}): Promise<boolean> {
  const config = helpConfig(root)
  if (!config) return false
  const helpFlags = [...new Set([...(config.pjson.oclif.additionalHelpFlags ?? []), '--help'])]
  const routed = routedArgv(argv)
  // oclif answers a version flag first, whatever follows it.
  if (['--version', ...(config.pjson.oclif.additionalVersionFlags ?? [])].includes(routed[0])) return false
  const request = helpArgv(routed, helpFlags)
  if (!request) return false
  helpOutput.lines = []
  try {
    await new KvmdoctorHelp(config, options).showHelp(request)
  } catch {
    // oclif's "Command X not found" and whatever else the full CLI reports in its own words.
    return false
  }
  process.stdout.write(helpOutput.lines.join(''))
  return true
}
