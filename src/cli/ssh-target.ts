/** --ssh and --ssh-option's values as the target to reach, without oclif (the quick diagnose reads them too). */
import type {SshTarget} from '../core/ssh-runner.js'

export function sshTargetOf(flags: {ssh?: string; 'ssh-option'?: string[]}): SshTarget | undefined {
  return flags.ssh === undefined ? undefined : {destination: flags.ssh, options: flags['ssh-option'] ?? []}
}
