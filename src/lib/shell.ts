/**
 * Quoting for a POSIX shell (sh, dash, bash, ksh, zsh), for the one place kvmdoctor hands a
 * command line to a shell it does not run itself: ssh runs the remote command through the
 * remote user's login shell. Single quotes make every byte literal except the single quote,
 * which closes the quote, is written escaped and reopens it: no $, `, \, glob, newline or
 * leading dash can mean anything there.
 */
export function shellQuote(word: string): string {
  // A NUL cannot be passed in argv at all: refusing it here beats a command cut short there.
  if (word.includes('\u0000')) throw new TypeError('a shell word cannot hold a NUL byte')
  return `'${word.replaceAll("'", `'\\''`)}'`
}

/** argv as one command line for a POSIX shell: each word quoted, separated by spaces. */
export function shellCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new TypeError('an empty command')
  return argv.map(shellQuote).join(' ')
}
