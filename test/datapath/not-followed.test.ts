/**
 * A running guest whose traffic no flow followed was an OK: a macvtap guest (type='direct') had no flows at all, so a
 * host whose guests were all on macvtap said "OK: no problems found" even with the macvtap's lower device down.
 * Now a macvtap interface is followed through its two devices (host side; the LAN beyond is assumed), and an interface
 * whose traffic never passes the host (hostdev, user-mode networking, ...) is named as not followed: never an OK.
 */
import {describe, expect, it} from 'vitest'
import {diagnose} from '../../src/core/diagnose.js'
import type {CommandCapture, FileCapture} from '../../src/lib/runner.js'
import {alteredFixture} from '../hostile/helpers.js'

const FIXTURE = 'bridge-prefix-widened'
/** web01's interface on the default network, rewritten in every XML the probes read. */
function rewritten(change: (iface: string) => string) {
  const xml = (text: string) => text.replace(/<interface type='network'>[\s\S]*?<\/interface>/, change)
  return {
    run: (c: CommandCapture) => (c.argv.includes('dumpxml') ? {...c, output: xml(c.output)} : c),
    readFile: (c: FileCapture) => (c.path.includes('/qemu/') ? {...c, output: xml(c.output)} : c),
  }
}
const macvtap = (lower: string) => rewritten((m) => m.replace("type='network'", "type='direct'").replace(/<source network='default'[^>]*\/>/, `<source dev='${lower}' mode='bridge'/>`))
/** `ip -d addr show` with one device set down. */
const down = (dev: string) => (c: CommandCapture) => {
  if (!c.argv.includes('addr') || c.argv[0] !== 'ip') return c
  const links = JSON.parse(c.output) as {ifname: string; flags: string[]; operstate: string}[]
  for (const l of links) if (l.ifname === dev) Object.assign(l, {flags: l.flags.filter((f) => f !== 'UP' && f !== 'LOWER_UP'), operstate: 'DOWN'})
  return {...c, output: JSON.stringify(links)}
}

async function run(change: Parameters<typeof alteredFixture>[1]) {
  const {runner, options} = await alteredFixture(FIXTURE, change)
  return diagnose({runner, options, version: 'test', now: new Date('2026-12-07T00:00:00Z')})
}

describe('guests whose traffic is not through a bridge', () => {
  it('a macvtap guest on an up lower device: its DHCP and way out pass on the host side, the LAN assumed: OK (host side), not OK', async () => {
    const d = await run(macvtap('kdlab-up0'))
    expect(d.flows.filter((f) => f.guest === 'kdlab-web01').map((f) => [f.kind, f.verdict])).toEqual([
      ['dhcp', 'pass'],
      ['dhcp-reply', 'pass'],
      ['egress', 'pass'],
      ['egress-reply', 'pass'],
    ])
    expect(d.flows.find((f) => f.kind === 'egress')!.hops.map((h) => h.name)).toEqual(['guest NIC', 'tap vnet0 (out)', 'uplink kdlab-up0 (out)'])
    expect(d.verdict.status).toBe('ok-host-side')
    expect(d.verdict.beyondHost).toContain("the LAN's DHCP server behind kdlab-up0 answers (out of this host's sight)")
  })
  it('its lower device down: every flow fails there, one finding (it said OK)', async () => {
    const d = await run({...macvtap('kdlab-up0'), run: (c: CommandCapture) => down('kdlab-up0')(macvtap('kdlab-up0').run(c))})
    expect(d.flows.filter((f) => f.guest === 'kdlab-web01').map((f) => [f.kind, f.verdict, f.decidedBy?.name])).toEqual([
      ['dhcp', 'fail', 'uplink kdlab-up0 (out)'],
      ['egress', 'fail', 'uplink kdlab-up0 (out)'],
    ])
    expect(d.findings.filter((f) => f.severity !== 'info' && !f.explainedBy).map((f) => [f.id, f.entity.name])).toEqual([['guest-flow-blocked', 'ip link: kdlab-up0 DOWN']])
  })
  it('a host PCI device (hostdev) passed to the guest: not followed, named as such; the verdict is no plain OK', async () => {
    const d = await run(rewritten(() => "<interface type='hostdev' managed='yes'><mac address='52:54:00:6b:64:01'/><source><address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x1'/></source></interface>"))
    expect(d.flows.filter((f) => f.guest === 'kdlab-web01')).toEqual([])
    expect(d.flowsNotFollowed).toEqual([{guest: 'kdlab-web01', iface: '52:54:00:6b:64:01', why: 'a host PCI device passed to the guest (hostdev): its traffic never passes the host'}])
    expect(d.verdict.status).toBe('ok-host-side')
    expect(d.verdict.beyondHost).toContain('kdlab-web01 52:54:00:6b:64:01: not followed (a host PCI device passed to the guest (hostdev): its traffic never passes the host)')
  })
  it("a host bridge libvirt does not manage, with no port but guests' taps (a NAT the admin set up by hand): not followed, said so", async () => {
    const d = await run(rewritten((m) => m.replace("type='network'", "type='bridge'").replace(/<source network='default'[^>]*\/>/, "<source bridge='kdlab-up0'/>")))
    expect(d.flows.filter((f) => f.guest === 'kdlab-web01')).toEqual([])
    // (Its tap is still virbr0's here: tap-not-attached judges that.)
    expect(d.flowsNotFollowed?.map((n) => n.why)).toEqual(["kdlab-up0 has no port but guests' taps: what the host does for it (an address of its own, NAT or routing it set up by hand) is not followed"])
  })
  it('as recorded (a NAT guest followed): nothing is not followed', async () => {
    const d = await run({})
    expect(d.flowsNotFollowed).toBeUndefined()
    expect(d.verdict.beyondHost.filter((b) => b.includes('not followed'))).toEqual([])
    expect(d.flows.filter((f) => f.guest === 'kdlab-web01').length).toBeGreaterThan(3)
  })
})
