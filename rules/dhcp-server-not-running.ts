import type {DhcpServiceView, NetworkView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, respawnDnsmasq, text} from './kit.js'

/** What says no server runs: dnsmasq's command line for a libvirt network, dhcpd for dhcpd.conf. */
const absence = (e: NetworkView | DhcpServiceView) =>
  e.kind === 'network' ? `no process with --conf-file=/var/lib/libvirt/dnsmasq/${e.name}.conf` : line`no dhcpd process runs, yet /etc/dhcp/dhcpd.conf declares ${e.dhcpRanges}`

export default defineRule<NetworkView | DhcpServiceView>({
  id: 'dhcp-server-not-running',
  // libvirt networks (their dnsmasq) and an external ISC dhcpd (the seed article's dhcpd.conf)
  kind: ['network', 'dhcp-service'],
  severity: 'critical',
  needs: [probes.processes],
  known: ['dhcpServerRunning'],
  appliesTo: (e) => e.active && e.dhcpEnabled,
  conditions: (c) => c.all(c.eq('active', true), c.eq('dhcpEnabled', true), c.eq('dhcpServerRunning', false)),
  title: (e) => text`No DHCP server runs for ${e.name}`,
  summary: (e) => text`${e.name} should serve DHCP (${e.dhcpRanges}), but ${absence(e)}: guests that boot or renew now get no address (and fall back to 169.254.x.x).`,
  evidence: (e) => [line`${e.name} active, DHCP ${e.dhcpRanges}`, absence(e)],
  // A network's dnsmasq respawned by libvirt's daemon where systemd runs it; else the network restarted, its guests re-plugged.
  fix: (e, h) => (e.kind === 'network' ? respawnDnsmasq(e, h) : [cmd`systemctl restart isc-dhcp-server`]),
  check: (e) => (e.kind === 'network' ? [] : [cmd`journalctl -u isc-dhcp-server -n 50`]),
  note: (e) => (e.kind === 'network' ? ['under systemd, restarting libvirt\'s network daemon starts the missing dnsmasq and leaves the guests attached; without systemd the network is restarted: its running guests lose their link until their taps are re-plugged (the lines after it)'] : ['without systemd: /etc/init.d/isc-dhcp-server restart, then read its log']),
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
      undo: (el) => (el.server !== undefined ? cmd`systemctl restart ${el.server}` : cmd`/usr/sbin/dnsmasq --conf-file=/var/lib/libvirt/dnsmasq/${el.network}.conf --leasefile-ro --dhcp-script=/usr/lib/libvirt/libvirt_leaseshelper`) ?? [],
    },
  ],
})
