/**
 * Kernel features on a guest's path whose rules kvmdoctor cannot read (an XDP program, a tc BPF program that
 * decides by its return code) or that change where routing looks (the l3mdev rule of a VRF), on the lab's healthy
 * recording changed by one fact, each taken from real output (test/data/unread-hops/capture.sh, which also checks
 * in a namespace that the kernel drops or diverts what these say). A hop not evaluated is undecided, never a pass;
 * the same feature off the flow's path changes nothing.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {type Link, parseIpAddr} from '../../probes/links.js'
import {type PolicyRuleFacts, parseIpRules} from '../../probes/ip-rules.js'
import {type Route, parseIpRoute} from '../../probes/routes.js'
import type {FdbFacts} from '../../probes/fdb.js'
import type {Neighbour} from '../../probes/neighbours.js'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {SysctlFacts} from '../../probes/sysctl.js'
import {type TcFacts, parseFilters, parseQdiscs} from '../../probes/tc.js'
import {ipAddressTextToJson, ipRuleTextToJson} from '../../probes/iproute-text.js'
import type {Flow} from '../../src/datapath/flows.js'
import {ROOT, type Facts, alter, factsOf, fireAll, model, unavailable, withIptablesRule} from '../helpers.js'

const data = (f: string) => readFileSync(join(ROOT, 'test/data/unread-hops', f), 'utf8')
const TAP = 'vnet0'
const UPLINK = 'kdlab-up0'

function flowsOf(facts: Facts): Flow[] {
  const m = model(facts)
  if (!m.datapath.ok) throw new Error(m.datapath.reason)
  return m.datapath.datapath.flows
}
const verdicts = (facts: Facts) => Object.fromEntries(flowsOf(facts).map((f) => [f.kind, f.verdict]))
const decided = (facts: Facts, kind: string) => flowsOf(facts).find((f) => f.kind === kind)?.decidedBy

/** The recorded clsact and its direct-action bpf filter (the capture's v1) put on `dev`, in `attach`. */
const withBpfDa = (facts: Facts, dev: string, attach: 'ingress' | 'egress' = 'ingress', protocol?: string) =>
  alter<TcFacts>(facts, 'tc', (tc) => {
    tc.qdiscs.push(...parseQdiscs(data('qdisc-clsact.json')).filter((q) => q.kind === 'clsact').map((q) => ({...q, dev})))
    tc.filters.push(...parseFilters(data('filter-bpf-da-ingress.json'), dev, attach).map((f) => ({...f, ...(protocol ? {protocol} : {})})))
  })

/** The recorded XDP attachment (generic mode, the capture's v1) on `devs`. */
const withXdp = (facts: Facts, ...devs: string[]) =>
  alter<Link[]>(facts, 'links', (links) => {
    const xdp = parseIpAddr(data('addr-xdp.json'))[0].xdp
    for (const d of devs) links.find((l) => l.name === d)!.xdp = xdp
  })

describe('tc: a bpf classifier in direct-action mode (its return code is the verdict)', () => {
  it('on the tap, where the guest\'s packets enter: every guest-sent flow is undecided at it, naming the filter (it was a pass)', async () => {
    const healthy = await factsOf('healthy')
    const facts = withBpfDa(healthy, TAP)
    for (const kind of ['dhcp', 'dns', 'egress']) {
      expect(decided(facts, kind)).toMatchObject({name: `tc ingress ${TAP}`, verdict: 'indeterminate', detail: expect.stringContaining('direct-action'), element: {kind: 'tc-filter', device: TAP, tcFilter: {attach: 'ingress', pref: 49152}}})
    }
    const finding = (await fireAll(facts)).evaluation.findings.find((f) => f.id === 'guest-flow-indeterminate')
    expect(finding?.title).toContain('bpf')
    // Nothing is deleted for what cannot be told.
    expect(finding?.fix ?? []).toEqual([])
  })
  it('harmless where the flow does not meet it: on another device, on the tap\'s egress for what the guest sends, for IPv6 only', async () => {
    const healthy = await factsOf('healthy')
    const before = verdicts(healthy)
    expect(verdicts(withBpfDa(healthy, 'ifb0'))).toEqual(before)
    expect(decided(withBpfDa(healthy, TAP, 'egress'), 'egress')).toBeUndefined()
    expect(verdicts(withBpfDa(healthy, TAP, 'ingress', 'ipv6'))).toEqual(before)
  })
  it('an act_bpf action decides by its program too, whatever control tc prints for it', async () => {
    const healthy = await factsOf('healthy')
    const facts = alter<TcFacts>(withBpfDa(healthy, TAP), 'tc', (tc) => {
      const f = tc.filters.find((x) => x.dev === TAP)!
      f.kind = 'u32'
      f.keys = []
      delete f.options
      f.actions = [{kind: 'bpf', control: 'pipe'}]
    })
    expect(decided(facts, 'egress')).toMatchObject({name: `tc ingress ${TAP}`, verdict: 'indeterminate', detail: expect.stringContaining('action bpf')})
  })
})

describe('tc actions that change the packet the rest of the path reads', () => {
  /** A match-all u32 filter on the tap's clsact ingress with these actions (the kernel here has none of them: as tc -j prints them). */
  const withActions = async (actions: TcFacts['filters'][number]['actions']) =>
    alter<TcFacts>(withBpfDa(await factsOf('healthy'), TAP), 'tc', (tc) => {
      const f = tc.filters.find((x) => x.dev === TAP)!
      Object.assign(f, {kind: 'u32', keys: [], actions})
      delete f.options
    })
  it('pedit, vlan, ct, a skbedit of the mark: undecided at the filter (they were followed as if nothing changed)', async () => {
    for (const action of [{kind: 'pedit', control: 'pipe'}, {kind: 'vlan', control: 'pipe'}, {kind: 'ct', control: 'pipe'}, {kind: 'skbedit', control: 'pipe', sets: ['mark']}]) {
      expect(decided(await withActions([action]), 'egress')).toMatchObject({name: `tc ingress ${TAP}`, verdict: 'indeterminate', detail: expect.stringContaining(`action ${action.kind}`)})
    }
  })
  it("skbedit's settings are kept from tc -j (written by hand after iproute2's m_skbedit.c: this kernel has no skbedit)", () => {
    const json = JSON.stringify([{protocol: 'all', pref: 1, kind: 'u32', options: {fh: '800::800', actions: [{order: 1, kind: 'skbedit', mark: 5, control_action: {type: 'pipe'}}, {order: 2, kind: 'skbedit', priority: '1:10', control_action: {type: 'pipe'}}]}}])
    expect(parseFilters(json, TAP, 'ingress')[0].actions.map((a) => a.sets)).toEqual([['mark'], undefined])
  })
  it('harmless: a skbedit of the queue or priority only, a checksum fix', async () => {
    for (const action of [{kind: 'skbedit', control: 'pipe'}, {kind: 'csum', control: 'pipe'}]) {
      expect(verdicts(await withActions([action]))).toMatchObject({dhcp: 'pass', dns: 'pass', egress: 'pass'})
    }
  })
})

describe('XDP on a device the flow enters by', () => {
  it('on the uplink: the replies coming back by it are undecided, what the guest sends is not (it was a pass)', async () => {
    const facts = withXdp(await factsOf('healthy'), UPLINK)
    expect(decided(facts, 'egress-reply')).toMatchObject({name: `XDP ${UPLINK}`, verdict: 'indeterminate', element: {id: `xdp:${UPLINK}`, kind: 'xdp', device: UPLINK, text: expect.stringContaining('(generic)')}})
    expect(verdicts(facts)).toMatchObject({dhcp: 'pass', dns: 'pass', egress: 'pass', 'egress-reply': 'indeterminate'})
    // Reported as not checked, by the general rule that owns it, with nothing to undo.
    const finding = (await fireAll(facts)).evaluation.findings.find((f) => /\bxdp\b/i.test(f.entity.name))
    expect(finding).toMatchObject({id: 'guest-flow-indeterminate', fix: []})
  })
  it('on the tap and on the bridge device (what the bridge passes up to the host): the guest\'s own packets are undecided', async () => {
    const healthy = await factsOf('healthy')
    expect(decided(withXdp(healthy, TAP), 'dhcp')).toMatchObject({name: `XDP ${TAP}`, verdict: 'indeterminate'})
    expect(decided(withXdp(healthy, 'virbr0'), 'dns')).toMatchObject({name: 'XDP virbr0', verdict: 'indeterminate'})
    // Frames leaving by the tap meet no XDP: the replies pass as before.
    expect(verdicts(withXdp(healthy, TAP))).toMatchObject({'dhcp-reply': 'pass', 'dns-reply': 'pass', 'egress-reply': 'pass'})
  })
  it('harmless on a device off the path', async () => {
    const healthy = await factsOf('healthy')
    expect(verdicts(withXdp(healthy, 'ifb0'))).toEqual(verdicts(healthy))
  })
})

describe('the l3mdev policy rule (a VRF\'s): the VRF\'s table for its devices, no match for the others', () => {
  const l3mdevRule = () => parseIpRules(data('rule-l3mdev.json'), 'inet').find((r) => r.priority === 1000)!
  const withL3mdev = (facts: Facts, change: (rules: PolicyRuleFacts) => void = () => {}) =>
    alter<PolicyRuleFacts>(facts, 'ip-rules', (rules) => {
      rules.inet.push(l3mdevRule())
      change(rules)
    })

  it('is read as iproute2 prints it, not as a lookup of main', () => {
    expect(l3mdevRule()).toMatchObject({priority: 1000, action: 'lookup', l3mdev: true, text: '1000: from all lookup [l3mdev-table]'})
    expect(l3mdevRule().table).toBeUndefined()
  })
  it('does not hide the policy rules after it from guests off any VRF: a rule at 5000 sending them to an unreachable table still fails their egress (it passed by main)', async () => {
    const recorded = await factsOf('policy-route-unreachable')
    const failing = decided(recorded, 'egress')
    expect(failing?.verdict).toBe('fail')
    const later = withL3mdev(recorded, (rules) => {
      const r = rules.inet.find((x) => x.priority === 100)!
      Object.assign(r, {priority: 5000, text: r.text.replace(/^100:/, '5000:')})
    })
    expect(decided(later, 'egress')).toMatchObject({name: 'routing', verdict: 'fail', element: {kind: 'policy-rule', rulePriority: 5000}})
  })
  it('harmless where no device is in a VRF: the healthy host passes as before', async () => {
    const healthy = await factsOf('healthy')
    expect(verdicts(withL3mdev(healthy))).toEqual(verdicts(healthy))
  })
  it('the guests\' bridge in a VRF whose table ends in an unreachable default: their egress fails there (main has a way out)', async () => {
    const healthy = await factsOf('healthy')
    const inVrf = (table?: number) =>
      alter<Route[]>(
        alter<Link[]>(withL3mdev(healthy), 'links', (links) => {
          links.push({...links.find((l) => l.name === 'virbr0')!, name: 'vrf-blue', index: 99, kind: 'vrf', addresses: [], ...(table !== undefined ? {vrfTable: table} : {})})
          links.find((l) => l.name === 'virbr0')!.master = 'vrf-blue'
        }),
        'routes',
        (routes) => {
          routes.push({family: 'inet', dst: '192.168.122.0/24', type: 'unicast', table: '10', dev: 'virbr0', metric: 0, scope: 'link', nexthops: []})
          routes.push({family: 'inet', dst: 'default', type: 'unreachable', table: '10', metric: 4278198272, nexthops: []})
        },
      )
    expect(decided(inVrf(10), 'egress')).toMatchObject({name: 'routing', verdict: 'fail'})
    expect(decided(inVrf(10), 'egress')?.detail).toMatch(/unreachable/)
    // The VRF's table not printed: undecided, not main's pass (nor a MASQUERADE blamed for a way out not known).
    const unread = flowsOf(inVrf()).find((f) => f.kind === 'egress')!
    expect(unread.decidedBy).toMatchObject({name: 'routing', verdict: 'indeterminate'})
    expect(unread.verdict).toBe('indeterminate')
  })
})

describe('policy rule selectors beyond addresses, devices and marks', () => {
  const selectors = parseIpRules(data('rule-selectors.json'), 'inet')
  /** The healthy host with one of the recorded rules (by priority) and the unreachable table 100 it sends to. */
  const withRule = async (priority: number) => {
    const healthy = await factsOf('healthy')
    const rule = selectors.find((r) => r.priority === priority)!
    return alter<Route[]>(
      alter<PolicyRuleFacts>(healthy, 'ip-rules', (rules) => rules.inet.push(rule)),
      'routes',
      (routes) => routes.push({family: 'inet', dst: 'default', type: 'unreachable', table: '100', metric: 0, nexthops: []}),
    )
  }

  it('uidrange 1000-2000: a forwarded packet carries uid 0, so the guests\' traffic passes it by (it was read as "from all" and failed every flow)', async () => {
    expect(selectors.find((r) => r.priority === 50)).toMatchObject({uidRange: [1000, 2000], text: '50: from all uidrange 1000-2000 lookup 100'})
    const facts = await withRule(50)
    expect(verdicts(facts)).toMatchObject({egress: 'pass', 'egress-reply': 'pass'})
    // The host's own replies come from a socket whose uid is not known: undecided, not a pass.
    expect(decided(facts, 'dns-reply')).toMatchObject({name: 'routing', verdict: 'indeterminate', detail: expect.stringContaining('uid')})
  })
  it('uidrange 0-0 takes forwarded packets: the guests\' egress fails by it', async () => {
    const healthy = await factsOf('healthy')
    const rootOnly = {...selectors.find((r) => r.priority === 50)!, uidRange: [0, 0] as [number, number]}
    const facts = alter<Route[]>(alter<PolicyRuleFacts>(healthy, 'ip-rules', (rules) => rules.inet.push(rootOnly)), 'routes', (routes) => routes.push({family: 'inet', dst: 'default', type: 'unreachable', table: '100', metric: 0, nexthops: []}))
    expect(decided(facts, 'egress')).toMatchObject({name: 'routing', verdict: 'fail'})
  })
  it('tos and suppress_ifgroup are not evaluated: the lookups they would decide are undecided, not failed or passed by a guess', async () => {
    expect(decided(await withRule(60), 'egress')).toMatchObject({name: 'routing', verdict: 'indeterminate', detail: expect.stringContaining('tos 0x10')})
    expect(decided(await withRule(70), 'egress')).toMatchObject({name: 'routing', verdict: 'indeterminate', detail: expect.stringContaining('suppress_ifgroup 5')})
  })
  it('a sosreport\'s text listings read the same (ip rule, ip -d address)', () => {
    expect(parseIpRules(JSON.stringify(ipRuleTextToJson(data('rule-selectors.txt'))), 'inet')).toEqual(selectors)
    expect(parseIpAddr(JSON.stringify(ipAddressTextToJson(data('addr-xdp.txt'))))[0].xdp).toEqual(parseIpAddr(data('addr-xdp.json'))[0].xdp)
  })
})

describe("a locked port (802.1X) on the guest's tap (the lab's tap-locked-authorized: web01 measured everything ok)", () => {
  const WEB01_MAC = '52:54:00:6b:64:01'
  const locked = () => factsOf('tap-locked-authorized')
  const withoutEntry = (facts: Facts, change: (own: FdbFacts['entries'][number], all: FdbFacts['entries']) => void) =>
    alter<FdbFacts>(facts, 'fdb', (fdb) => change(fdb.entries.find((e) => e.mac === WEB01_MAC && e.state === 'static')!, fdb.entries))
  it("the guest's MAC authorized by a static fdb entry on its port: its frames pass, no finding, no 'locked off' (it was a failure and a fix undoing the port's 802.1X)", async () => {
    const facts = await locked()
    expect(verdicts(facts)).toMatchObject({dhcp: 'pass', dns: 'pass', egress: 'pass'})
    expect((await fireAll(facts)).evaluation.findings.filter((f) => f.severity !== 'info')).toEqual([])
  })
  it('no authorized entry (none, or the bridge\'s own locked one): dropped at the port, as before', async () => {
    const none = withoutEntry(await locked(), (own, all) => all.splice(all.indexOf(own), 1))
    expect(decided(none, 'dhcp')).toMatchObject({verdict: 'fail', element: {portFlag: 'locked'}})
    const mab = withoutEntry(await locked(), (own) => ((own.locked = true), (own.state = 'dynamic')))
    expect(decided(mab, 'dhcp')).toMatchObject({verdict: 'fail', element: {portFlag: 'locked'}})
  })
  it('the lock is never lifted by a fix (that admits every MAC on the port): no command, a note on authorizing the guest', async () => {
    const none = withoutEntry(await locked(), (own, all) => all.splice(all.indexOf(own), 1))
    const blocked = (await fireAll(none)).evaluation.findings.find((f) => f.id === 'guest-flow-blocked')
    expect(blocked?.entity.name).toMatch(/locked on/)
    expect(blocked?.fix).toEqual([])
    expect(blocked?.note?.join(' ')).toMatch(/authorize the guest's MAC there.*kvmdoctor does not lift a port lock/)
  })
  it('the fdb not read: undecided at the lock, never a pass', async () => {
    expect(decided(unavailable(await locked(), 'fdb'), 'dhcp')).toMatchObject({verdict: 'indeterminate', element: {portFlag: 'locked'}})
  })
})

describe('port isolation on a bridged LAN (the lab\'s bridged-ports-isolated: the guest\'s DHCP got no answer)', () => {
  const LAN05 = 'kdlab-lan05'
  const lanVerdicts = (facts: Facts) => Object.fromEntries(flowsOf(facts).filter((f) => f.guest === LAN05).map((f) => [f.kind, f.verdict]))
  it("the guest's tap and the LAN's port both isolated: the bridge forwards nothing between them, one finding for both directions and no command (it was a pass)", async () => {
    const facts = await factsOf('bridged-ports-isolated')
    expect(lanVerdicts(facts)).toMatchObject({dhcp: 'fail', 'dhcp-reply': 'fail', egress: 'fail', 'egress-reply': 'fail'})
    const blocked = (await fireAll(facts)).evaluation.findings.filter((f) => f.id === 'guest-flow-blocked')
    expect(blocked.map((f) => f.entity.name)).toEqual([expect.stringMatching(/^bridge link: vnet\d+ isolated on, kdlab-lanp isolated on$/)])
    expect(blocked[0].fix ?? []).toEqual([])
  })
  it("only the guest's tap isolated (the usual way to keep guests apart): the LAN's port still reaches it, no false alarm", async () => {
    const facts = alter<Link[]>(await factsOf('bridged-ports-isolated'), 'links', (links) => (links.find((l) => l.name === 'kdlab-lanp')!.port!.isolated = false))
    expect(lanVerdicts(facts)).toMatchObject({dhcp: 'pass', 'dhcp-reply': 'pass'})
  })
})

describe("bridge port flags on the guest's tap and what br_flood sends it", () => {
  /** vnet0 with the port flags of a recorded port (the capture's p0), and no neighbour entry for the guest: the host must ask for it by a broadcast. */
  const withPortOf = async (file: string) => {
    const healthy = await factsOf('healthy')
    const recorded = parseIpAddr(data(file))[0].port
    return alter<Neighbour[]>(
      alter<Link[]>(healthy, 'links', (links) => (links.find((l) => l.name === TAP)!.port = recorded)),
      'neighbours',
      (ns) => ns.splice(0, ns.length, ...ns.filter((n) => n.dev !== 'virbr0')),
    )
  }
  it('proxy_arp on: nothing is flooded to the port, so the host\'s ARP request for the guest never reaches it (it was a pass); the guest\'s own ARP requests still write the entry: intermittent, no certain failure (it was one)', async () => {
    const facts = await withPortOf('addr-port-proxy-arp.json')
    expect(decided(facts, 'dns-reply')).toMatchObject({verdict: 'indeterminate', intermittent: true, element: {kind: 'bridge-port', portFlag: 'proxy_arp', device: TAP}})
    const findings = (await fireAll(facts)).evaluation.findings
    expect(findings.map((f) => f.id)).not.toContain('guest-flow-blocked')
    const blocked = findings.find((f) => f.id === 'guest-flow-indeterminate')
    // bridge link set has no proxy_arp option (iproute2 6.1 refuses it): ip's bridge_slave options set it.
    expect(blocked?.fix).toEqual([`ip link set dev ${TAP} type bridge_slave proxy_arp off`])
  })
  it("bcast_flood off: the host's own broadcasts still reach the port; no false alarm (it was a failure)", async () => {
    const facts = await withPortOf('addr-port-bcast-flood-off.json')
    expect(verdicts(facts)).toMatchObject({'dhcp-reply': 'pass', 'dns-reply': 'pass', 'egress-reply': 'pass'})
  })
})

describe("a bridge's own nf_call_iptables (br_netfilter takes it or the sysctl)", () => {
  const LAN_GUEST = 'kdlab-lan01'
  /** The bridged-forward-drop recording (FORWARD policy drop) with bridge-nf-call-iptables at `sysctl`, and the recorded nf_call_iptables 1 on `bridge` (the lan guest's when true). */
  const recording = async (sysctl: number | null, onBridge: boolean | string) => {
    const recorded = await factsOf('bridged-forward-drop')
    const lanBridge = (recorded.results.libvirt as {data: LibvirtFacts}).data.domains.find((d) => d.name === LAN_GUEST)!.interfaces[0].source!
    const own = parseIpAddr(data('addr-bridge-nf-call-iptables.json'))[0].bridge
    const target = onBridge === true ? lanBridge : onBridge
    const facts = alter<SysctlFacts>(recorded, 'sysctl', (s) => (s.values['net.bridge.bridge-nf-call-iptables'] = sysctl))
    return target ? alter<Link[]>(facts, 'links', (links) => (links.find((l) => l.name === target)!.bridge = {...links.find((l) => l.name === target)!.bridge!, nfCallIptables: own?.nfCallIptables})) : facts
  }
  const lanDhcp = (facts: Facts) => flowsOf(facts).find((f) => f.guest === LAN_GUEST && f.kind === 'dhcp')!

  it('on the lan guest\'s bridge with the sysctl at 0: its bridged frames meet the FORWARD drop (it was a pass)', async () => {
    expect(lanDhcp(await recording(0, false)).verdict).toBe('pass')
    expect(lanDhcp(await recording(0, true)).decidedBy).toMatchObject({name: 'netfilter forward (br_netfilter)', verdict: 'fail'})
  })
  it('harmless on another bridge, or with br_netfilter not loaded (no sysctl: no hooks at all)', async () => {
    expect(lanDhcp(await recording(0, 'virbr0')).verdict).toBe('pass')
    expect(lanDhcp(await recording(null, true)).verdict).toBe('pass')
  })
})

describe('a WireGuard uplink (its peers\' AllowedIPs decide what it sends and takes back)', () => {
  // No WireGuard in the namespace kernel: the recorded uplink is given the kind ip -j -d prints for one (info_kind "wireguard").
  const asWireguard = (facts: Facts, dev: string) => alter<Link[]>(facts, 'links', (links) => (links.find((l) => l.name === dev)!.kind = 'wireguard'))
  it('egress by it and the replies back are undecided, naming the peers not read (it was a pass)', async () => {
    const facts = asWireguard(await factsOf('healthy'), UPLINK)
    expect(decided(facts, 'egress')).toMatchObject({name: `wireguard ${UPLINK}`, verdict: 'indeterminate', detail: expect.stringContaining(`wg show ${UPLINK} allowed-ips`), element: {kind: 'wireguard', device: UPLINK}})
    expect(decided(facts, 'egress-reply')).toMatchObject({name: `wireguard ${UPLINK}`, verdict: 'indeterminate'})
    expect(verdicts(facts)).toMatchObject({dhcp: 'pass', dns: 'pass'})
  })
  it('harmless off the path (a WireGuard device no route of the guests uses)', async () => {
    const healthy = await factsOf('healthy')
    expect(verdicts(asWireguard(healthy, 'ifb0'))).toEqual(verdicts(healthy))
  })
})

describe('routes by nexthop object (ip route ... nhid N; FRR makes them)', () => {
  // The capture's default route (nexthop object 1) as either listing prints it, in place of the healthy host's route
  // to the guests' destination (203.0.113.10 via kdlab-up0): the object's device and gateway are the host's, not da's.
  const withNhidDefault = async (listing: string) =>
    alter<Route[]>(await factsOf('healthy'), 'routes', (routes) => {
      const own = routes.findIndex((r) => r.dst === '203.0.113.10' && r.type === 'unicast')
      const listed = parseIpRoute(data(listing)).find((r) => r.dst === 'default')!
      routes[own] = {...listed, dst: routes[own].dst, ...(listed.dev ? {dev: routes[own].dev, gateway: routes[own].gateway} : {})}
    })
  it('with net.ipv4.nexthop_compat_mode 0 the listing names no device: the guests\' egress is undecided, naming the object (it was a pass by no device)', async () => {
    const facts = await withNhidDefault('route-nhid-compat0.json')
    expect(decided(facts, 'egress')).toMatchObject({name: 'routing', verdict: 'indeterminate', detail: expect.stringContaining('nexthop object 1')})
    expect(verdicts(facts)).toMatchObject({dhcp: 'pass', dns: 'pass'})
  })
  it('with compat mode 1 (the default) the route lists its device and gateway: the healthy host passes as before', async () => {
    const healthy = await factsOf('healthy')
    expect(verdicts(await withNhidDefault('route-nhid-compat1.json'))).toEqual(verdicts(healthy))
  })
})

describe('a mark set on the output hook re-routes what the host sends (ip_route_me_harder)', () => {
  // Kernel (namespaces): with `fwmark 1 lookup 100` and an unreachable table 100, a ping marked 1 in mangle OUTPUT
  // failed ("Network is unreachable"); marked 1 in filter OUTPUT it passed (no second lookup there).
  const withMarkRoute = async (table: 'mangle' | 'filter') =>
    alter<Route[]>(
      alter<PolicyRuleFacts>(withIptablesRule(await factsOf('healthy'), table, '-A OUTPUT -p udp -m udp --sport 53 -j MARK --set-xmark 0x1/0xffffffff', 0, 'iptables-legacy'), 'ip-rules', (rules) => {
        rules.inet.splice(1, 0, {family: 'inet', priority: 100, src: 'all', dst: 'all', not: false, action: 'lookup', table: '100', fwmark: 1, text: '100: from all fwmark 0x1 lookup 100'})
      }),
      'routes',
      (routes) => routes.push({family: 'inet', dst: 'default', type: 'unreachable', table: '100', metric: 0, nexthops: []}),
    )
  it('marked in mangle OUTPUT (a chain of type route): the DNS answer is routed again, by table 100, and fails there (it was a pass)', async () => {
    const facts = await withMarkRoute('mangle')
    expect(decided(facts, 'dns-reply')).toMatchObject({name: 'routing (again, after output)', verdict: 'fail', detail: expect.stringContaining('unreachable')})
    expect(verdicts(facts)).toMatchObject({dhcp: 'pass', dns: 'pass', egress: 'pass'})
    // Blamed on the policy rule the mark meets, as a lookup before the hook would be.
    expect((await fireAll(facts)).evaluation.findings.find((f) => f.id === 'policy-route-diverts-guests')?.entity.name).toBe('ip rule 100: from all fwmark 0x1 lookup 100')
  })
  it('marked in filter OUTPUT: no second lookup, the answer passes', async () => {
    expect(verdicts(await withMarkRoute('filter'))).toEqual(verdicts(await factsOf('healthy')))
  })
})
