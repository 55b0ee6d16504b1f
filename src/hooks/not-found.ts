import type {Hook} from '@oclif/core'
import notFound from '@oclif/plugin-not-found'
import {suggest} from '../lib/suggest.js'

/**
 * An unknown command: on a terminal, @oclif/plugin-not-found asks "Did you mean …?"
 * and runs it; elsewhere (scripts, CI) the suggestion is printed. A command given
 * words it takes none of (oclif reads `topology x` as the command "topology x")
 * is told so. Either way a command that does not exist is a usage error: exit 2.
 */
const hook: Hook<'command_not_found'> = async function (options) {
  const bin = options.config.bin
  const words = options.id.split(':')
  // The longest run of leading words that is a command: the rest are arguments it does not take.
  for (let n = words.length - 1; n > 0; n--) {
    const command = options.config.findCommand(words.slice(0, n).join(':'))
    // A topic's commands (rules list) get the "did you mean" below.
    if (!command || options.config.commandIDs.some((id) => id.startsWith(`${words.slice(0, n).join(':')}:`))) continue
    const name = words.slice(0, n).join(' ')
    const extra = words.slice(n).map((w) => `"${w}"`).join(', ')
    const takes = Object.keys(command.args ?? {}).length > 0 ? `takes ${Object.keys(command.args).map((a) => a.toUpperCase()).join(' ')} once` : 'takes no arguments'
    this.error(`${bin} ${name} ${takes}, not ${extra}`, {exit: 2})
  }
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
  // A lone word that is no command is most often a guest's name: say where one goes.
  const guest = words.length === 1 && !best ? ` To follow a guest: ${bin} trace ${typed}.` : ''
  const mean = best ? ` Did you mean "${bin} ${best.replaceAll(':', ' ')}"?` : ''
  this.error(`"${typed}" is not a ${bin} command.${mean}${guest} Run ${bin} help for a list of commands.`, {exit: 2})
}

export default hook
