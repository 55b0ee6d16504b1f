import type {LibvirtFacts} from './libvirt.js'
import type {ProcessFacts} from './processes.js'
import {type Probe, ProbeUnavailable} from './types.js'

export interface FirewalldFacts {
  running: boolean
  /** Zone of each libvirt bridge (null = in no zone). */
  zones: Record<string, string | null>
}

/** firewall-cmd's words when the system bus socket does not exist (as captured on Debian 12, firewalld 1.3.3, exit 36). */
const NO_SYSTEM_BUS = /DBUS_ERROR: Failed to connect to socket \/run\/dbus\/system_bus_socket: No such file or directory/

/** firewalld's command line ("/usr/bin/python3 -s /usr/sbin/firewalld --nofork --nopid"). */
export const FIREWALLD = /(^|\/|\s)firewalld(\s|$)/

/** Asks a running firewalld which zone holds each libvirt bridge (read-only queries). */
export const firewalldProbe: Probe<FirewalldFacts> = {
  // "not running" (exit 252), no system bus, and an interface in no zone (exit 2) are answers.
  expectedFailure: (c) => c.kind === 'command' && (c.output.trim() === 'not running' || NO_SYSTEM_BUS.test(c.stderr) || (c.exitCode === 2 && /no zone/.test(c.output + c.stderr))),
  id: 'firewalld',
  title: 'firewalld zones of libvirt bridges',
  reads: ['firewall-cmd --state (when a firewalld process runs)', 'firewall-cmd --get-zone-of-interface=BRIDGE'],
  async collect({runner, get}) {
    // No firewalld process (most hosts): it is not running, and firewall-cmd is not spawned to say so.
    const processes = await get<ProcessFacts>('processes')
    if (processes.ok && !processes.data.processes.some((p) => FIREWALLD.test(p.args))) return {running: false, zones: {}}
    const state = await runner.run(['firewall-cmd', '--state'])
    // Not installed or not running is a plain fact for this probe, not a failure. firewalld lives on the
    // system bus: with no bus socket at all (hosts without D-Bus) it cannot be running either.
    if (state.errorCode === 'not-found' || state.output.trim() === 'not running' || NO_SYSTEM_BUS.test(state.stderr)) return {running: false, zones: {}}
    if (state.output.trim() !== 'running') throw new ProbeUnavailable(state.error ?? `firewall-cmd --state: unexpected "${state.output.trim().slice(0, 60)}"`)
    const libvirt = await get<LibvirtFacts>('libvirt')
    if (!libvirt.ok) throw new ProbeUnavailable(`needs libvirt: ${libvirt.error}`)
    const bridges = libvirt.data.networks.filter((n) => n.active && n.bridge).map((n) => n.bridge!)
    const zones: Record<string, string | null> = {}
    await Promise.all(
      bridges.map(async (bridge) => {
        const c = await runner.run(['firewall-cmd', `--get-zone-of-interface=${bridge}`])
        // firewall-cmd prints "no zone" and exits 2 for an interface in no zone; any other failure
        // (a timeout, no permission, dbus gone) tells nothing about the zone.
        if (c.exitCode === 0) zones[bridge] = c.output.trim()
        else if (c.exitCode === 2 && /no zone/.test(c.output + c.stderr)) zones[bridge] = null
        else throw new ProbeUnavailable(c.error ?? `firewall-cmd --get-zone-of-interface=${bridge}: exit ${c.exitCode}`)
      }),
    )
    return {running: true, zones}
  },
}
