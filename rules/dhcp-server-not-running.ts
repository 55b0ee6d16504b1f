import type {DhcpServiceView, NetworkView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, respawnDnsmasq, text} from './kit.js'

/** The server's processes that are stopped (a network's dnsmasq, dhcpd); none when it is gone. */
const stoppedOf = (e: NetworkView | DhcpServiceView) => (e.kind === 'network' ? e.dnsmasqStopped : e.dhcpdStopped)
const pidList = (pids: {pid: number}[]) => pids.map((p) => p.pid).join(', ')
/** The freezer files that hold the server's processes frozen (a cgroup's cgroup.freeze, a v1 freezer.state). */
const freezersOf = (e: NetworkView | DhcpServiceView) => [...new Set(stoppedOf(e).flatMap((p) => (p.frozen ? [p.frozen] : [])))]
const allFrozen = (e: NetworkView | DhcpServiceView) => stoppedOf(e).length > 0 && stoppedOf(e).every((p) => p.frozen)

/** What says no server runs: dnsmasq's command line for a libvirt network, dhcpd for dhcpd.conf; or its dnsmasq stopped. */
const absence = (e: NetworkView | DhcpServiceView) =>
  stoppedOf(e).length > 0
    ? line`its ${e.kind === 'network' ? 'dnsmasq' : 'dhcpd'} (pid ${pidList(stoppedOf(e))}) is ${allFrozen(e) ? `frozen by its cgroup (${freezersOf(e).join(', ')})` : 'stopped'}: it holds its ${e.kind === 'network' ? 'DHCP and DNS sockets' : 'socket'} and answers nothing`
    : e.kind === 'network'
      ? `no process with --conf-file=/var/lib/libvirt/dnsmasq/${e.name}.conf`
      : line`no dhcpd process runs, yet /etc/dhcp/dhcpd.conf declares ${e.dhcpRanges}`

/** Resumes a stopped dnsmasq: SIGCONT for a job-control stop; a traced one waits for its tracer, which kvmdoctor does not end, and a frozen one for its cgroup to thaw, which may hold other processes. */
const resume = (e: NetworkView | DhcpServiceView) => {
  const stopped = stoppedOf(e).filter((p) => !p.traced && !p.frozen)
  return stopped.length > 0 ? [cmd`kill -CONT ${stopped.map((p) => String(p.pid))}`] : []
}

export default defineRule<NetworkView | DhcpServiceView>({
  id: 'dhcp-server-not-running',
  // libvirt networks (their dnsmasq) and an external ISC dhcpd (the seed article's dhcpd.conf)
  kind: ['network', 'dhcp-service'],
  severity: 'critical',
  needs: [probes.processes],
  known: ['dhcpServerRunning'],
  appliesTo: (e) => e.active && e.dhcpEnabled,
  conditions: (c) => c.all(c.eq('dhcpServerRunning', false)),
  title: (e) => (stoppedOf(e).length > 0 ? text`The DHCP server of ${e.name} is ${allFrozen(e) ? 'frozen' : 'stopped'}` : text`No DHCP server runs for ${e.name}`),
  summary: (e) => text`${e.name} should serve DHCP (${e.dhcpRanges}), but ${absence(e)}: guests that boot or renew now get no address (and fall back to 169.254.x.x).`,
  evidence: (e) => [line`${e.name} active, DHCP ${e.dhcpRanges}`, absence(e)],
  // A stopped dnsmasq resumed where it stands; a network's missing dnsmasq respawned by libvirt's daemon where systemd runs it; else the network restarted, its guests re-plugged.
  fix: (e, h) => (stoppedOf(e).length > 0 ? resume(e) : e.kind === 'network' ? respawnDnsmasq(e, h) : [cmd`systemctl restart isc-dhcp-server`]),
  check: (e) => (stoppedOf(e).length > 0 ? [cmd`ps -o pid=,stat=,args= -p ${stoppedOf(e).map((p) => String(p.pid)).join(',')}`] : e.kind === 'network' ? [] : [cmd`journalctl -u isc-dhcp-server -n 50`]),
  note: (e) =>
    freezersOf(e).length > 0
      ? [
          line`its cgroup's freezer holds it (ps shows it asleep, not stopped) and SIGCONT does not resume it: thaw the cgroup, \`systemctl thaw UNIT\` for a systemd unit, else ${freezersOf(e).map((f) => (f.endsWith('freezer.state') ? `write THAWED to ${f}` : `write 0 to ${f}`)).join(', ')}; every process of that cgroup resumes with it`,
        ]
      : stoppedOf(e).some((p) => p.traced)
      ? [line`pid ${pidList(stoppedOf(e).filter((p) => p.traced))} is stopped by a tracer (a debugger, strace): SIGCONT does not resume it; detach the tracer (TracerPid in /proc/PID/status)`]
      : stoppedOf(e).length > 0
        ? ['SIGCONT resumes the server where it stopped: its leases and the guests stay as they are; who stopped it (a debugger, a script) may stop it again']
        : e.kind === 'network'
          ? ['under systemd, restarting libvirt\'s network daemon starts the missing dnsmasq and leaves the guests attached; without systemd the network is restarted: its running guests lose their link until their taps are re-plugged (the lines after it)']
          : ['without systemd: /etc/init.d/isc-dhcp-server restart, then read its log'],
  explains: [
    {rule: 'apipa-address', via: 'network'},
    {rule: 'apipa-address', via: 'bridge'},
    {rule: 'dhcp-no-offer', via: 'network'},
    {rule: 'dhcp-no-offer', via: 'bridge'},
  ],
  // Nothing listening for the guests' DHCP or DNS: a network's dnsmasq, or the host's dhcpd.
  owns: [
    {
      kind: 'listener',
      where: (el) => el.service !== undefined,
      covers: (e, el) => (e.kind === 'network' ? el.network === e.name : el.server === e.name),
      undo: (el) => (el.stoppedPid !== undefined ? (el.traced || el.frozen ? [] : cmd`kill -CONT ${String(el.stoppedPid)}`) : el.server !== undefined ? cmd`systemctl restart ${el.server}` : cmd`/usr/sbin/dnsmasq --conf-file=/var/lib/libvirt/dnsmasq/${el.network}.conf --leasefile-ro --dhcp-script=/usr/lib/libvirt/libvirt_leaseshelper`) ?? [],
    },
  ],
})
