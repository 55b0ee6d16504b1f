import {type Probe, outputOf} from './types.js'

export interface HostFacts {
  hostname: string
  kernel: string
  /** /dev/vhost-net exists (virtio-net acceleration). */
  vhostNet: boolean | null
}

const VHOST_NET = '/sys/class/misc/vhost-net/dev'

export const hostProbe: Probe<HostFacts> = {
  // vhost-net's entry unread is its own fact (vhostNet null: unknown); hostname and release throw when unread.
  expectedFailure: (c) => c.kind === 'file' && c.path === VHOST_NET,
  id: 'host',
  title: 'Host identity',
  reads: ['/proc/sys/kernel/hostname', '/proc/sys/kernel/osrelease', '/sys/class/misc/vhost-net/dev'],
  async collect({runner}) {
    // The misc device's sysfs entry exists exactly when vhost_net is loaded; opening /dev/vhost-net would create an instance.
    const [hostname, kernel, vhost] = await Promise.all([
      runner.readFile('/proc/sys/kernel/hostname'),
      runner.readFile('/proc/sys/kernel/osrelease'),
      runner.readFile(VHOST_NET),
    ])
    return {
      hostname: outputOf(hostname).trim(),
      kernel: outputOf(kernel).trim(),
      vhostNet: vhost.error === undefined ? true : vhost.errorCode === 'not-found' ? false : null,
    }
  },
}
