import type {Hook} from '@oclif/core'
import notFound from '@oclif/plugin-not-found'
import {suggest} from '../cli/suggest.js'

/**
 * An unknown command: on a terminal, @oclif/plugin-not-found asks "Did you mean …?"
 * and runs it; elsewhere (scripts, CI) the suggestion is printed. Either way a
 * command that does not exist is a usage error: exit 2.
 */
const hook: Hook<'command_not_found'> = async function (options) {
  if (process.stdin.isTTY && process.stdout.isTTY) {
    try {
      return await notFound.call(this, options)
    } catch (error) {
      const e = error as {oclif?: {exit?: number}; message?: string}
      if (e.oclif?.exit === 127) this.error(e.message ?? 'unknown command', {exit: 2})
      throw error
    }
  }
  const ids = [...options.config.commandIDs, ...options.config.commands.flatMap((c) => c.aliases)].filter((id) => !options.config.findCommand(id)?.hidden)
  const typed = options.id.replaceAll(':', ' ')
  const best = suggest(options.id, ids)
  const mean = best ? ` Did you mean "${options.config.bin} ${best.replaceAll(':', ' ')}"?` : ''
  this.error(`"${typed}" is not a ${options.config.bin} command.${mean} Run ${options.config.bin} help for a list of commands.`, {exit: 2})
}

export default hook
