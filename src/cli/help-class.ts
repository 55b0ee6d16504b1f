/**
 * kvmdoctor's help: a usage line that names the command's arguments and then [FLAGS] (oclif's own
 * line lists every flag with empty alternatives, "[-o <value> | ]"; the FLAGS section lists them
 * whole), and an alias shown beside its command rather than as a second command.
 */
import {type Command, CommandHelp, Help} from '@oclif/core'

class KvmdoctorCommandHelp extends CommandHelp {
  protected defaultUsage(): string {
    const args = Object.values(this.command.args ?? {})
      .filter((a) => !a.hidden)
      .map((a) => {
        const name = `${a.name.toUpperCase()}${this.command.strict === false ? '...' : ''}`
        return a.required ? name : `[${name}]`
      })
    return [this.command.id, ...args, '[FLAGS]'].join(' ')
  }
}

export default class KvmdoctorHelp extends Help {
  protected CommandHelpClass = KvmdoctorCommandHelp

  protected formatCommands(commands: Command.Loadable[]): string {
    // The root list holds each alias as a command of its own: listed once, under its command.
    const aliases = new Set(commands.flatMap((c) => c.aliases ?? []))
    const shown = commands
      .filter((c) => !aliases.has(c.id))
      .map((c) => (c.aliases?.length ? {...c, summary: `${c.summary ?? ''} (alias: ${c.aliases.join(', ')})`} : c))
    return super.formatCommands(shown)
  }
}
