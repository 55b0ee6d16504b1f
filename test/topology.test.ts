/**
 * The topology derived from real recordings: what sits where, and the marks
 * (findings, health, the hop where a guest's flow stops) the pictures draw.
 */
import {describe, expect, it} from 'vitest'
import {allNodes, deriveTopology, firstStoppedFlow} from '../src/core/topology.js'
import {topologyGraph} from '../reports/topology-graph.js'
import {reportable} from '../src/core/output.js'
import {topologyTree} from '../reports/topology-text.js'
import type {TreeNode} from '../reports/layout.js'
import {RECORDINGS, diagnosisOf} from './reports/recordings.js'

const topologyOf = async (name: string, policyRules = false) => deriveTopology(await diagnosisOf(name, {policyRules}))

describe('topology', () => {
  it('host → uplink with the default route → network (mode, subnet, DHCP, dnsmasq) → bridge → tap → guest', async () => {
    const t = await topologyOf('healthy')
    expect(t.host).toMatchObject({name: 'vm', ipForward: 1, health: 'ok', defaultRoutes: ['default via 192.0.2.1 dev eth0 metric 0']})
    expect(t.uplinks.find((u) => u.name === 'eth0')).toEqual(expect.objectContaining({name: 'eth0', state: 'UP', addresses: ['192.0.2.2/24'], defaultRoutes: [{gateway: '192.0.2.1', metric: 0}], carriesGuests: true, health: 'ok'}))
    // The lab's own uplink to its internet namespace carries no default route.
    expect(t.uplinks.find((u) => u.name === 'kdlab-up0')).toMatchObject({defaultRoutes: []})
    expect(t.networks).toEqual([
      expect.objectContaining({name: 'default', mode: 'nat', active: true, subnet: '192.168.122.0/24', gateway: '192.168.122.1', dhcpRanges: ['192.168.122.2-192.168.122.254'], bridge: 'virbr0', health: 'ok'}),
    ])
    expect(t.networks[0].dnsmasq.running).toBe(true)
    const bridge = t.bridges.find((b) => b.name === 'virbr0')!
    expect(bridge).toMatchObject({network: 'default', exists: true, state: 'UP'})
    expect(bridge.taps).toEqual([expect.objectContaining({name: expect.stringMatching(/^vnet\d+$/), guest: 'kdlab-web01', mac: '52:54:00:6b:64:01', master: 'virbr0', health: 'ok'})])
    expect(t.guests.find((g) => g.name === 'kdlab-web01')).toMatchObject({running: true, health: 'ok', interfaces: [expect.objectContaining({addresses: ['192.168.122.190'], verdict: 'ok', network: 'default', bridge: 'virbr0'})]})
    // The recording has everything the datapath needs: the flows are followed.
    expect(t.flowsUnavailable).toBeUndefined()
  })

  it('marks the dead dnsmasq, the network it fails and the guest left with a 169.254 address', async () => {
    const t = await topologyOf('dnsmasq-killed')
    const net = t.networks.find((n) => n.name === 'default')!
    expect(net).toMatchObject({health: 'fail', dnsmasq: {running: false, pids: []}})
    expect(net.findings.map((f) => f.id)).toEqual(['dhcp-server-not-running'])
    const apipa = t.guests.find((g) => g.name === 'kdlab-apipa01')!
    expect(apipa.health).toBe('fail')
    expect(apipa.interfaces[0].verdict).toBe('APIPA')
    // (recorded with --listen: its unanswered DHCP is a symptom of the dead dnsmasq as well)
    expect(apipa.findings.map((f) => [f.id, f.rootCause])).toEqual([['apipa-address', false], ['dhcp-no-offer', false], ['guest-agent-missing', true]])
  })

  it('marks a guest by what it asks for that nobody answers: a gateway fails it, a netmask warns (--listen)', async () => {
    const gateway = (await topologyOf('wire-gateway-unanswered')).guests.find((g) => g.name === 'kdlab-wronggw01')!
    expect(gateway.health).toBe('fail')
    expect(gateway.interfaces[0].verdict).toBe('gateway unanswered')
    expect(gateway.findings.map((f) => f.id)).toContain('guest-gateway-unanswered')
    const netmask = (await topologyOf('wire-netmask-wrong')).guests.find((g) => g.name === 'kdlab-netmask01')!
    expect(netmask.interfaces[0].verdict).toBe('wrong netmask')
    expect(netmask.health).toBe('warn')
  })

  it('a tap on no bridge fails under the bridge it belongs to, with its finding', async () => {
    const t = await topologyOf('tap-detached')
    const tap = t.bridges.find((b) => b.name === 'virbr0')!.taps[0]
    expect(tap).toMatchObject({master: null, health: 'fail'})
    expect(tap.findings.map((f) => f.id)).toEqual(['tap-not-attached'])
    expect(topologyGraph(t).edges.find((e) => e.tap === tap.name)).toMatchObject({health: 'fail', label: `${tap.name} on no bridge`})
  })

  it("with flows followed, marks each guest's stopping hop and the element's finding on the guest", async () => {
    const t = await topologyOf('flushed-and-forward-off', true)
    expect(t.flowsUnavailable).toBeUndefined()
    const web = t.guests.find((g) => g.name === 'kdlab-web01')!
    expect(web.health).toBe('fail')
    expect(firstStoppedFlow(web)).toMatchObject({kind: 'egress', verdict: 'fail', decidedBy: {name: 'forwarding', element: 'net.ipv4.ip_forward = 0'}})
    const egress = web.interfaces[0].flows.find((f) => f.kind === 'egress')!
    expect(egress.hops[egress.decidedBy!.index]).toMatchObject({name: 'forwarding', verdict: 'fail'})
    const bridged = await topologyOf('bridged-forward-drop', true)
    const lan = bridged.guests.find((g) => g.name === 'kdlab-lan01')!
    expect(lan.findings.map((f) => f.id)).toContain('iptables-forward-drop')
    expect(bridged.bridges.find((b) => b.name === 'kdlab-br0')).toMatchObject({network: null, ports: [expect.objectContaining({name: 'kdlab-lanp'})]})
  })

  it('an uplink a NAT network is pinned to but that does not exist fails', async () => {
    const t = await topologyOf('nat-pinned-missing-dev')
    expect(t.uplinks.find((u) => u.name === 'kdlab-nodev')).toMatchObject({state: 'absent', carriesGuests: true, health: 'fail'})
    expect(t.networks.find((n) => n.name === 'kdlab-pinned')).toMatchObject({forwardDev: 'kdlab-nodev', health: 'fail'})
  })

  for (const name of RECORDINGS) {
    it(`${name}: every finding is on some element, and every element once`, async () => {
      const d = await diagnosisOf(name, {policyRules: true})
      const t = deriveTopology(d)
      const ids = allNodes(t).map((n) => n.id)
      expect(new Set(ids).size).toBe(ids.length)
      const marked = new Set(allNodes(t).flatMap((n) => n.findings.map((f) => f.key)))
      expect(d.findings.filter((f) => !marked.has(`${f.id}@${f.entity.kind}:${f.entity.name}`)).map((f) => f.id)).toEqual([])
    })
  }
})

describe('topology: a bridge without carrier', () => {
  // The healthy recording with its guest gone: virbr0 set up, no port, so the kernel reports it DOWN/NO-CARRIER.
  async function emptyBridge(adminUp: boolean) {
    const d = await diagnosisOf('healthy')
    const links = d.facts.links as {ok: true; data: {name: string; kind: string; master?: string; up: boolean; operstate: string; lowerUp: boolean}[]}
    links.data = links.data.filter((l) => l.master !== 'virbr0')
    const br = links.data.find((l) => l.name === 'virbr0')!
    Object.assign(br, {up: adminUp, operstate: 'DOWN', lowerUp: false})
    const libvirt = d.facts.libvirt as {ok: true; data: {domains: {state: string}[]}}
    for (const dom of libvirt.data.domains) dom.state = 'shut off'
    return deriveTopology(d).bridges.find((b) => b.name === 'virbr0')!
  }
  it('set up with no port: no carrier, not a failure', async () => {
    expect(await emptyBridge(true)).toMatchObject({state: 'NO-CARRIER', taps: [], ports: [], health: 'ok'})
  })
  it('set down: DOWN and a failure', async () => {
    expect(await emptyBridge(false)).toMatchObject({state: 'DOWN', health: 'fail'})
  })
})

describe('reports are given the result, no facts', () => {
  it('on every recording, the report-ready diagnosis carries no facts, and its topology is the full one', async () => {
    for (const name of RECORDINGS) {
      const d = await diagnosisOf(name)
      const safe = reportable(d, 'text')
      expect('facts' in safe, name).toBe(false)
      expect(safe.topology(), name).toEqual(deriveTopology(d))
    }
  }, 300_000)
})

describe('topology text: a tap and its guest on one line', () => {
  const lines = (nodes: TreeNode[]): string[] => nodes.flatMap((n) => [...n.lines.map((l) => (typeof l === 'string' ? l : (l.label ?? '') + l.text)), ...lines(n.children)])
  it("lists an interface's finding once, and no '(tap …)' note when the tap itself is fine (wire-rogue-dhcp)", async () => {
    const tap = lines(topologyTree(await topologyOf('wire-rogue-dhcp'))).find((l) => l.includes('tap vnet') && l.includes('kdlab-web01'))!
    expect(tap.match(/rogue-dhcp-server/g)).toHaveLength(1)
    expect(tap).not.toContain('(tap on')
  })
  it("keeps the tap's own trouble (tap-detached: on no bridge)", async () => {
    const tap = lines(topologyTree(await topologyOf('tap-detached'))).find((l) => l.includes('tap vnet'))!
    expect(tap).toContain('(tap on no bridge)')
    expect(tap.match(/tap-not-attached/g)).toHaveLength(1)
  })
})
