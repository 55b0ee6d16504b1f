/** Which command an argv names: a bare `kvmdoctor`, or one with only flags, runs `diagnose` (what on-call reaches for). */
export function routedArgv(argv: string[]): string[] {
  const first = argv[0]
  if (first === undefined || (first.startsWith('-') && !['--help', '-h', '--version', '-v'].includes(first))) return ['diagnose', ...argv]
  return [...argv]
}
