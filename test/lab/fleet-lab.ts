/**
 * A fleet of lab hypervisors on this machine, each a set of namespaces named kdf-*, none of them
 * libvirt guests: the root namespace's links, routes, sysctls and netfilter are never touched.
 *
 *   kdf-ctl        the controller: bridge kdf-br0, 10.199.0.1/24; kvmdoctor --ssh and Ansible run here
 *   kdf-hvN        hypervisor N: eth0 10.199.0.1N/24 (veth kdf-hvN on kdf-br0), default route via .1;
 *                  libvirt's default network as libvirt 9 sets it up (bridge virbr0 192.168.122.1/24,
 *                  STP on, its iptables-nft chains, ip_forward on, its dnsmasq) and guest web01's
 *                  "tap" vnet0 on virbr0; its own sshd on 10.199.0.1N:22
 *   kdf-hvN-g      guest web01 of hypervisor N: the other end of vnet0, 192.168.122.50/24 (the
 *                  address its lease holds), default route via 192.168.122.1
 *
 * Each hypervisor's processes run under test/lab/fleet/hv-init.sh (its own PID, mount and UTS
 * namespaces: its hostname is its name, ps shows its dnsmasq and sshd only). What is real there:
 * every kernel fact kvmdoctor reads (links, bridge ports, addresses, routes, neighbours, sysctls,
 * iptables/nftables, sockets, processes) and the SSH path to it (OpenSSH's sshd with host keys made
 * here, a key pair made here, known_hosts). What stands in: libvirt's management view (virsh,
 * libvirt's status XML, the lease file), from files describing the very bridge, tap, guest and
 * address that exist in the namespace; and systemctl, which answers as in a container (no init
 * system of its own). The faults are injected into the kernel state only, so kvmdoctor finds them
 * in what the kernel says, read over SSH.
 */
import {type ResultPromise, execa} from 'execa'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {ROOT, sh, waitFor} from './lab.js'

export const FLEET_PREFIX = 'kdf'
const LAB = join(ROOT, 'test/lab/fleet')
const CONTROLLER = 'kdf-ctl'
const SWITCH = 'kdf-br0'
const SUBNET = '10.199.0'
const GUEST = {name: 'web01', mac: '52:54:00:d0:00:01', tap: 'vnet0', tapMac: 'fe:54:00:d0:00:01', address: '192.168.122.50'}

export interface HypervisorSpec {
  /** Also its hostname, its namespace and its controller-side veth. */
  name: string
  /** What is broken there, in the words of the command that broke it. */
  fault?: {description: string; commands: string[][]}
  /** The root causes kvmdoctor must report there, and no other. */
  expect: string[]
}

/** One healthy host and one fault each: per namespace, sysctls, iptables and links are its own. */
export const FLEET: HypervisorSpec[] = [
  {name: 'kdf-hv1', expect: []},
  {name: 'kdf-hv2', fault: {description: 'sysctl -w net.ipv4.ip_forward=0', commands: [['sysctl', '-qw', 'net.ipv4.ip_forward=0']]}, expect: ['ip-forward-disabled']},
  {
    name: 'kdf-hv3',
    fault: {description: "iptables -I FORWARD 1 -s 192.168.122.0/24 -j REJECT, ahead of libvirt's chains", commands: [['iptables', '-I', 'FORWARD', '1', '-s', '192.168.122.0/24', '-j', 'REJECT']]},
    expect: ['iptables-forward-drop'],
  },
  {
    name: 'kdf-hv4',
    fault: {
      description: "libvirt's MASQUERADE rules deleted from LIBVIRT_PRT",
      commands: [
        ['iptables', '-t', 'nat', '-D', 'LIBVIRT_PRT', '-s', '192.168.122.0/24', '!', '-d', '192.168.122.0/24', '-p', 'tcp', '-j', 'MASQUERADE', '--to-ports', '1024-65535'],
        ['iptables', '-t', 'nat', '-D', 'LIBVIRT_PRT', '-s', '192.168.122.0/24', '!', '-d', '192.168.122.0/24', '-p', 'udp', '-j', 'MASQUERADE', '--to-ports', '1024-65535'],
        ['iptables', '-t', 'nat', '-D', 'LIBVIRT_PRT', '-s', '192.168.122.0/24', '!', '-d', '192.168.122.0/24', '-j', 'MASQUERADE'],
      ],
    },
    expect: ['nat-masquerade-missing'],
  },
  {name: 'kdf-hv5', fault: {description: "web01's tap taken off virbr0 (ip link set vnet0 nomaster)", commands: [['ip', 'link', 'set', GUEST.tap, 'nomaster']]}, expect: ['tap-not-attached']},
]

export interface Hypervisor extends HypervisorSpec {
  address: string
  guestNetns: string
  work: string
}

export interface FleetLab {
  dir: string
  hosts: Hypervisor[]
  /** The client key and known_hosts, as --ssh-option words. */
  sshOptions: string[]
  identity: string
  knownHosts: string
  /** Runs a command in the controller namespace. */
  inController(argv: string[], options?: {cwd?: string; env?: Record<string, string>; timeout?: number}): Promise<{stdout: string; stderr: string; exitCode: number}>
  /** kvmdoctor (this checkout's bin/run.js) in the controller namespace. */
  kvmdoctor(args: string[], options?: {cwd?: string}): Promise<{stdout: string; stderr: string; exitCode: number}>
  /** Runs a command on a hypervisor itself: in its network, mount, PID and UTS namespaces (as a local run there). */
  onHost(host: Hypervisor, argv: string[]): Promise<{stdout: string; stderr: string; exitCode: number}>
  stop(): Promise<void>
}

const inNetns = (netns: string, argv: string[], options?: {reject?: boolean}) => sh(['ip', 'netns', 'exec', netns, ...argv], options)

/** Whatever kdf-* namespaces an interrupted run left: their processes (this lab's) stopped, the namespaces deleted. */
export async function cleanFleet(): Promise<void> {
  const names = (await sh(['ip', 'netns', 'list'])).stdout
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith(`${FLEET_PREFIX}-`))
  for (const name of names) {
    for (const pid of (await sh(['ip', 'netns', 'pids', name], {reject: false})).stdout.split('\n').filter(Boolean)) await sh(['kill', '-KILL', pid], {reject: false})
    await sh(['ip', 'netns', 'del', name], {reject: false})
  }
}

function sshdConfig(host: Hypervisor, authorizedKeys: string): string {
  return [
    `ListenAddress ${host.address}`,
    `HostKey ${join(host.work, 'host_key')}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    'PidFile none',
    // The keys live under /tmp, world-writable: sshd's ownership walk up the path would refuse them.
    'StrictModes no',
    'UsePAM no',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'AcceptEnv LANG LC_*',
    // Ansible copies files over SFTP.
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n')
}

export async function startFleet(specs: HypervisorSpec[] = FLEET): Promise<FleetLab> {
  if (process.getuid?.() !== 0) throw new Error('the fleet lab needs root (network namespaces)')
  for (const bin of ['sshd', 'ssh', 'ssh-keygen', 'dnsmasq', 'iptables-restore', 'unshare']) {
    if ((await sh(['which', bin], {reject: false})).exitCode !== 0 && (await sh(['test', '-x', `/usr/sbin/${bin}`], {reject: false})).exitCode !== 0) throw new Error(`${bin} missing: run .ci/lab-deps first`)
  }
  await cleanFleet()
  const dir = await mkdtemp('/tmp/kdf-lab-')
  const identity = join(dir, 'id_ed25519')
  const knownHosts = join(dir, 'known_hosts')
  const authorizedKeys = join(dir, 'authorized_keys')
  const inits: ResultPromise[] = []
  const hosts: Hypervisor[] = specs.map((s, i) => ({...s, address: `${SUBNET}.${11 + i}`, guestNetns: `${s.name}-g`, work: join(dir, s.name)}))
  const stop = async () => {
    // SIGTERM to each unshare: --kill-child takes its namespace's PID 1 down, and all in it.
    for (const init of inits) init.kill('SIGTERM')
    await Promise.allSettled(inits)
    for (const h of hosts) for (const ns of [h.guestNetns, h.name]) await sh(['ip', 'netns', 'del', ns], {reject: false})
    await sh(['ip', 'netns', 'del', CONTROLLER], {reject: false})
    await rm(dir, {recursive: true, force: true})
  }
  try {
    await sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'kdf-controller', '-f', identity])
    await writeFile(authorizedKeys, await readFile(`${identity}.pub`, 'utf8'), {mode: 0o600})
    await sh(['ip', 'netns', 'add', CONTROLLER])
    await inNetns(CONTROLLER, ['ip', 'link', 'set', 'lo', 'up'])
    await inNetns(CONTROLLER, ['ip', 'link', 'add', SWITCH, 'type', 'bridge'])
    await inNetns(CONTROLLER, ['ip', 'addr', 'add', `${SUBNET}.1/24`, 'dev', SWITCH])
    await inNetns(CONTROLLER, ['ip', 'link', 'set', SWITCH, 'up'])
    const known: string[] = []
    await Promise.all(
      hosts.map(async (h, i) => {
        await sh(['mkdir', '-p', h.work])
        await sh(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', h.name, '-f', join(h.work, 'host_key')])
        known.push(`${h.address} ${(await readFile(join(h.work, 'host_key.pub'), 'utf8')).split(' ').slice(0, 2).join(' ')}`)
        await writeFile(join(h.work, 'sshd_config'), sshdConfig(h, authorizedKeys))
        // The lease libvirt's leases helper would have written for web01, valid for an hour from now.
        const lease = [{'ip-address': GUEST.address, 'mac-address': GUEST.mac, hostname: GUEST.name, 'client-id': `01:${GUEST.mac}`, 'expiry-time': Math.floor(Date.now() / 1000) + 3600}]
        await writeFile(join(h.work, 'virbr0.status'), JSON.stringify(lease, null, 2) + '\n')
        await sh(['ip', 'netns', 'add', h.name])
        await sh(['ip', 'netns', 'add', h.guestNetns])
        const hv = (...argv: string[]) => inNetns(h.name, argv)
        const guest = (...argv: string[]) => inNetns(h.guestNetns, argv)
        await inNetns(CONTROLLER, ['ip', 'link', 'add', h.name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.name])
        await inNetns(CONTROLLER, ['ip', 'link', 'set', h.name, 'master', SWITCH, 'up'])
        await hv('ip', 'link', 'set', 'lo', 'up')
        await hv('ip', 'addr', 'add', `${h.address}/24`, 'dev', 'eth0')
        await hv('ip', 'link', 'set', 'eth0', 'up')
        await hv('ip', 'route', 'add', 'default', 'via', `${SUBNET}.1`)
        // libvirt's bridge for <bridge name='virbr0' stp='on' delay='0'/>, with the network's MAC and address.
        await hv('ip', 'link', 'add', 'virbr0', 'address', '52:54:00:d0:01:01', 'type', 'bridge', 'stp_state', '1', 'forward_delay', '0')
        await hv('ip', 'addr', 'add', '192.168.122.1/24', 'brd', '192.168.122.255', 'dev', 'virbr0')
        await hv('ip', 'link', 'set', 'virbr0', 'up')
        await hv('ip', 'link', 'add', GUEST.tap, 'address', GUEST.tapMac, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.guestNetns)
        await hv('ip', 'link', 'set', GUEST.tap, 'master', 'virbr0', 'up')
        await guest('ip', 'link', 'set', 'lo', 'up')
        await guest('ip', 'link', 'set', 'eth0', 'address', GUEST.mac)
        await guest('ip', 'addr', 'add', `${GUEST.address}/24`, 'dev', 'eth0')
        await guest('ip', 'link', 'set', 'eth0', 'up')
        await guest('ip', 'route', 'add', 'default', 'via', '192.168.122.1')
        // What libvirt does when it starts a NAT network.
        await hv('sysctl', '-qw', 'net.ipv4.ip_forward=1')
        await hv('iptables-restore', join(LAB, 'iptables.rules'))
        await hv('ip6tables-restore', join(LAB, 'ip6tables.rules'))
        const init = execa('ip', ['netns', 'exec', h.name, 'unshare', '--pid', '--fork', '--kill-child', '--mount-proc', '--uts', '--', 'sh', join(LAB, 'hv-init.sh'), h.name, h.work, LAB], {
          reject: false,
          stdin: 'ignore',
          stdout: {file: join(h.work, 'init.log')},
          stderr: {file: join(h.work, 'init.log')},
        })
        // By the host's index: the hosts come up in parallel, in whatever order (onHost finds a host's PID 1 here).
        inits[i] = init
        await waitFor(`${h.name}'s sshd`, async () => {
          if (init.exitCode !== null && init.exitCode !== undefined) throw new Error(`${h.name}'s init ended: ${await readFile(join(h.work, 'init.log'), 'utf8').catch(() => '')}`)
          return (await readFile(join(h.work, 'sshd.log'), 'utf8').catch(() => '')).includes('Server listening on')
        }, 30_000, 100)
        // The guest says hello: both neighbour tables know the other, as after a real guest's boot. With
        // STP on, the kernel keeps a new port from forwarding for twice its minimum delay (2 s) at least.
        await waitFor(`${h.name}'s guest`, async () => (await inNetns(h.guestNetns, ['ping', '-c', '1', '-W', '1', '192.168.122.1'], {reject: false})).exitCode === 0, 30_000, 200)
        for (const command of h.fault?.commands ?? []) await hv(...command)
      }),
    )
    await writeFile(knownHosts, known.sort().join('\n') + '\n')
  } catch (error) {
    await stop()
    throw error
  }
  const inController = async (argv: string[], options: {cwd?: string; env?: Record<string, string>; timeout?: number} = {}) => {
    const r = await execa('ip', ['netns', 'exec', CONTROLLER, ...argv], {reject: false, stdin: 'ignore', cwd: options.cwd ?? ROOT, timeout: options.timeout ?? 300_000, env: {NO_COLOR: '1', ...options.env}})
    return {stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1}
  }
  const onHost = async (host: Hypervisor, argv: string[]) => {
    // The hypervisor's PID 1: the child unshare forked (its pid, in the machine's PID namespace).
    const init = inits[hosts.indexOf(host)]
    const pid1 = (await readFile(`/proc/${init.pid}/task/${init.pid}/children`, 'utf8')).trim().split(' ')[0]
    const r = await execa('nsenter', ['--target', pid1, '--net', '--mount', '--pid', '--uts', '--', ...argv], {
      reject: false,
      stdin: 'ignore',
      cwd: '/',
      timeout: 300_000,
      // What root's login gets there (sshd's default PATH): the host's /usr/local/sbin, the virsh stub, first.
      env: {NO_COLOR: '1', PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'},
    })
    return {stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1}
  }
  return {
    dir,
    hosts,
    onHost,
    identity,
    knownHosts,
    sshOptions: ['--ssh-option', `IdentityFile=${identity}`, '--ssh-option', `UserKnownHostsFile=${knownHosts}`],
    inController,
    kvmdoctor: (args, options) => inController([process.execPath, join(ROOT, 'bin/run.js'), ...args], options),
    stop,
  }
}
