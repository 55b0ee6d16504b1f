import {describe, expect, it} from 'vitest'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import stringWidth from 'string-width'
import {renderTrace} from '../reports/trace.js'
import {parseDestination} from '../src/datapath/destination.js'
import type {Destination} from '../src/datapath/flows.js'
import {runTrace} from '../src/core/trace-service.js'
import {fixtureDir} from './helpers.js'

const trace = (fixture: string, guest: string, to?: string) =>
  runTrace({from: fixtureDir(fixture), timeoutMs: 5000, options: {active: false, libvirtUri: 'qemu:///system'}, guest, ...(to ? {to: parseDestination(to) as Destination} : {})})

describe('kvmdoctor trace as people read it (recordings)', () => {
  it('wraps to the terminal width like diagnose; commands stay whole', async () => {
    const text = renderTrace(await trace('bridged-forward-drop', 'kdlab-lan01'), {width: 80})
    const long = text.split('\n').filter((l) => stringWidth(l) > 80)
    expect(long).toEqual([])
    // Piped (no width): whole lines, as before.
    expect(renderTrace(await trace('bridged-forward-drop', 'kdlab-lan01')).split('\n').some((l) => l.length > 80)).toBe(true)
  })

  it('offers a revert only for an element shown to stop the flow: in the JSON as in the text', async () => {
    // conntrack-full: the table's limit leaves flows undecided (the host hides whether an entry is free), never failed.
    const undecided = await trace('conntrack-full', 'kdlab-web01')
    const hops = undecided.flows.flatMap((f) => f.hops).filter((h) => h.element && h.verdict !== 'pass')
    expect(hops.length).toBeGreaterThan(0)
    for (const h of hops) expect([h.verdict, h.element!.undo, h.element!.undoSteps]).toEqual(['indeterminate', [], []])
    expect(renderTrace(undecided)).not.toMatch(/revert:|restore:/)
    // Undecided by time only (ARP off on the bridge: it fails once the guest's cache runs out): shown to stop it.
    const cached = (await trace('bridge-arp-off', 'kdlab-web01')).flows.find((f) => f.kind === 'dns')!
    expect(cached.decidedBy).toMatchObject({verdict: 'indeterminate', intermittent: true, element: {undo: ['ip link set virbr0 arp on']}})
    // A failing hop keeps its revert.
    const failing = (await trace('dhcp-input-drop', 'kdlab-web01')).flows.find((f) => f.verdict === 'fail')!
    expect(failing.decidedBy!.element!.undo).toEqual(['iptables -t filter -D INPUT -i virbr0 -p udp -m udp --dport 67 -j DROP'])
  })

  it('names each deciding element once, where it first stops a flow; the flows it stops again refer back', async () => {
    const t = await trace('bridged-forward-drop', 'kdlab-lan01')
    const text = renderTrace(t)
    const element = t.flows[0].decidedBy!.element!.text
    expect(t.flows.every((f) => f.decidedBy?.element?.text === element)).toBe(true)
    // Four flows stop at it: written out once (the summary), the step that decides marked in flow 1.
    expect(text.split(element).length - 1).toBe(1)
    expect(text).toMatch(/ip filter FORWARD: policy drop .*<- decides/)
    expect(text.match(/decided by the same element as flow 1/g)).toHaveLength(3)
    expect(text).toMatch(/^Summary: 0 pass, 4 fail, 0 indeterminate\n {2}stopped by .*: flows 1 \(dhcp\), 2 \(dhcp-reply\), 3 \(egress\), 4 \(egress-reply\)$/m)
  })

  it('offers a revert only for an element proven to stop the flow, never for one that leaves it undecided', async () => {
    // An SNAT to an address the host does not own: where the replies go is the network's to decide. Deleting the
    // rule would send the guests out with their private addresses.
    const undecided = await trace('snat-address-not-local', 'kdlab-web01')
    const reply = undecided.flows.find((f) => f.kind === 'egress-reply')!
    // Not offered in the JSON either: the element is named, its undo empty.
    expect(reply).toMatchObject({verdict: 'indeterminate', decidedBy: {element: {kind: 'snat-address', undo: [], undoSteps: []}}})
    const text = renderTrace(undecided)
    expect(text).toContain(`decided by: ${reply.decidedBy!.element!.text}`)
    expect(text).not.toMatch(/revert:|restore:/)
    const failed = renderTrace(await trace('dhcp-input-drop', 'kdlab-web01'))
    expect(failed).toMatch(/^ +revert: iptables -t filter -D INPUT -i virbr0 -p udp -m udp --dport 67 -j DROP$/m)
  })

  it("a guest's missing Open vSwitch port is put back as libvirt plugs it: its VLAN and ids (untagged, it would be a trunk of every VLAN)", async () => {
    const d = await trace('ovs-port-missing', 'kdlab-ovs03')
    const port = d.flows.find((f) => f.kind === 'dhcp')!.decidedBy!.element!
    expect(port).toMatchObject({kind: 'ovs-port', device: 'vnet25', ovsPlug: {vlanTags: [10]}})
    expect(renderTrace(d)).toMatch(/^ +revert: ovs-vsctl --may-exist add-port kdlab-ovs0 vnet25 -- set Port vnet25 tag=10 -- set Interface vnet25 external-ids:iface-id=\S+ external-ids:attached-mac=52:54:00:6b:64:73$/m)
    // A port whose plugging is not known is offered no blind re-add.
    const {ALL_RULES} = await import('../rules/index.js')
    const {ownershipOf} = await import('../rules/kit.js')
    const {ovsPlug: _, ...unknownPlug} = port
    expect(ownershipOf(ALL_RULES, unknownPlug)[0]?.ownership.undo(unknownPlug)).toEqual([])
  })

  it('shows the packet counters the recording holds (iptables-save -c)', async () => {
    const saved = readFileSync(join(fixtureDir('bridged-forward-drop'), 'outputs/0012-command-iptables-save--c.txt'), 'utf8')
    const [, packets, bytes] = /^:FORWARD DROP \[(\d+):(\d+)\]$/m.exec(saved)!
    const t = await trace('bridged-forward-drop', 'kdlab-lan01')
    const policy = t.flows[0].decidedBy!.steps!.at(-1)!
    expect(policy).toMatchObject({event: 'policy', action: 'drop', counters: {packets: Number(packets), bytes: Number(bytes)}})
    expect(renderTrace(t)).toContain(`policy drop  [${packets} packets, ${bytes} bytes counted]`)
  })

  it('writes packets with what is known, and says what is assumed (no 0.0.0.0:40000, no unknown:67)', async () => {
    const lan = await trace('bridged-forward-drop', 'kdlab-lan01')
    const text = renderTrace(lan)
    expect(text).not.toMatch(/0\.0\.0\.0:40000|unknown:\d/)
    // DHCP's own 0.0.0.0:68 is what the client really sends.
    expect(lan.flows.find((f) => f.kind === 'dhcp')!.packet).toBe('udp 0.0.0.0:68 > 255.255.255.255:67 ct new')
    const offer = lan.flows.find((f) => f.kind === 'dhcp-reply')!
    expect(offer.packet).toMatch(/^udp any:67 > /)
    expect(offer.packetAssumed).toEqual(['source address: any (the host cannot know it)'])
    const web = await trace('masquerade-removed', 'kdlab-web01')
    const egress = web.flows.find((f) => f.kind === 'egress')!
    expect(egress.packet).toMatch(/^tcp 192\.168\.122\.190:40000 > /)
    expect(egress.packetAssumed).toEqual([expect.stringMatching(/^port 40000 stands for the guest's own ephemeral port/)])
  })

  it('names hops as the packet meets them: a reply enters by the uplink, it does not start with "egress"', async () => {
    for (const [fixture, guest] of [['masquerade-removed', 'kdlab-web01'], ['bridged-forward-drop', 'kdlab-web01'], ['bridged-forward-drop', 'kdlab-lan01']]) {
      const t = await trace(fixture, guest)
      for (const f of t.flows.filter((x) => x.replyTo)) expect(f.hops[0].name, `${fixture} ${guest} ${f.kind}`).not.toMatch(/^egress /)
    }
    const reply = (await trace('masquerade-removed', 'kdlab-web01')).flows.find((f) => f.kind === 'dns-reply')!
    expect(reply.hops.at(-1)!.name).toBe('tap vnet0 (out)')
    const back = (await trace('bridged-forward-drop', 'kdlab-web01')).flows.find((f) => f.kind === 'egress-reply')!
    expect(back.hops[0].name).toBe('uplink kdlab-up0 (in)')
  })

  it('a rule on another interface is not "cannot tell" where the packet is known to come in elsewhere', async () => {
    const offer = (await trace('bridged-forward-drop', 'kdlab-lan01')).flows.find((f) => f.kind === 'dhcp-reply')!
    const forward = offer.hops.find((h) => h.name.startsWith('netfilter forward'))!
    expect(forward.steps!.filter((s) => s.event === 'maybe')).toEqual([])
    expect(renderTrace(await trace('bridged-forward-drop', 'kdlab-lan01'))).not.toContain('cannot tell')
  })

  it('the chains a hop shares with the hop before it are printed once', async () => {
    const text = renderTrace(await trace('masquerade-removed', 'kdlab-web01'))
    const egress = text.slice(text.indexOf(': egress '))
    expect(egress.match(/ip nat POSTROUTING \(hook postrouting, priority 100\)/g)).toHaveLength(1)
    expect(egress).toMatch(/FAIL {2}NAT .*\n {12}\(the chains of hop 8, above\)/)
  })

  it('names --to flows by their destination, and the lines that take a rule back out "revert:"', async () => {
    const t = await trace('nft-forward-daddr-drop', 'kdlab-web01', '203.0.113.10:80/tcp')
    expect(t.to).toBe('203.0.113.10:80/tcp')
    const text = renderTrace(t)
    expect(text).toMatch(/^Flow 1\/\d: to 203\.0\.113\.10:80\/tcp /m)
    expect(text).not.toMatch(/\bcustom\b|undo:/)
    expect(text).toMatch(/^ {10}revert: nft delete rule inet kdlab_fwd forward handle \d+$/m)
  })
})
