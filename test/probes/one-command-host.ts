import type {CommandCapture, Runner} from '../../src/lib/runner.js'

/** A host whose every command answers `answer` (and that has no files): for a probe of one command. */
export function oneCommandHost(answer: Partial<CommandCapture>): Runner {
  return {
    capturedAt: new Date('2026-12-06T10:00:00Z'),
    run: async (argv) => ({kind: 'command', argv, output: '', stderr: '', exitCode: 0, durationMs: 0, timedOut: false, truncated: false, ...answer}),
    readFile: async (path) => ({kind: 'file', path, output: '', durationMs: 0, truncated: false, error: 'not found', errorCode: 'not-found'}),
    listDir: async (path) => ({kind: 'dir', path, output: '', durationMs: 0, truncated: false, error: 'not found', errorCode: 'not-found'}),
  }
}

export const OPTIONS = {active: false, libvirtUri: 'qemu:///system'}
