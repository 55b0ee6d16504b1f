/** --ssh and --ssh-option, the same on every command that probes a live host. */
import {Flags} from '@oclif/core'

export {sshTargetOf} from './ssh-target.js'

export function sshFlags(exclusive: string[] = []) {
  return {
    ssh: Flags.string({
      summary: 'Probe this host over SSH instead of this one ([USER@]HOST or an ssh_config alias): nothing is installed there, every read is a fixed command over one connection (batch mode: a key or an agent, never a password prompt), the analysis runs here.',
      helpGroup: 'REMOTE',
      exclusive,
    }),
    'ssh-option': Flags.string({
      summary: 'An ssh option for --ssh, as ssh -o takes it (KEY=VALUE; repeatable): Port=2222, IdentityFile=~/.ssh/hv, ProxyJump=bastion, UserKnownHostsFile=FILE.',
      helpGroup: 'REMOTE',
      multiple: true,
      dependsOn: ['ssh'],
    }),
  }
}
