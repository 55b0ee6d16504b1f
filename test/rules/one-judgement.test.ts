import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {ALL_RULES} from '../../rules/index.js'
import {ownershipOf} from '../../rules/kit.js'
import {evaluate} from '../../src/core/engine.js'
import type {Element} from '../../src/datapath/elements.js'
import type {Model} from '../../src/derive/index.js'
import {ROOT, factsOf, fixtureDir, model} from '../helpers.js'

const FIXTURES = readdirSync(join(ROOT, 'fixtures')).filter((f) => existsSync(join(fixtureDir(f), 'manifest.json')))
const models = new Map<string, Model>()
beforeAll(async () => {
  for (const f of FIXTURES) models.set(f, model(await factsOf(f)))
}, 600_000)

/** One of each kind of element the datapath names, in each variant its fields tell apart. */
const ELEMENTS: Element[] = [
  {id: 'r', kind: 'nf-rule', text: '-A FORWARD -j DROP', backend: 'iptables-nft', family: 'ip', nfTable: 'filter', chain: 'FORWARD', ruleText: '-A FORWARD -j DROP'},
  {id: 'p', kind: 'nf-policy', text: 'policy drop', backend: 'nft', family: 'inet', nfTable: 'fw', chain: 'forward', nftSyntax: true},
  {id: 'u', kind: 'nf-undecided', text: 'mark match'},
  {id: 'n', kind: 'nf-nat-missing', text: 'no MASQUERADE', network: 'default'},
  {id: 's1', kind: 'sysctl', text: 'ip_forward = 0', sysctl: {key: 'net.ipv4.ip_forward', value: 0}},
  {id: 's2', kind: 'sysctl', text: 'virbr0 forwarding = 0', sysctl: {key: 'net.ipv4.conf.virbr0.forwarding', value: 0}, device: 'virbr0'},
  {id: 's3', kind: 'sysctl', text: 'ipv6 forwarding = 0', sysctl: {key: 'net.ipv6.conf.all.forwarding', value: 0}},
  {id: 's4', kind: 'sysctl', text: 'conntrack full', sysctl: {key: 'net.netfilter.nf_conntrack_max', value: 100}},
  {id: 'rp', kind: 'rp-filter', text: 'rp_filter 1 on virbr0', sysctl: {key: 'net.ipv4.conf.virbr0.rp_filter', value: 1}, device: 'virbr0'},
  {id: 'l1', kind: 'link', text: 'virbr0 DOWN', device: 'virbr0', state: 'down'},
  {id: 'l2', kind: 'link', text: 'no tap', state: 'missing'},
  {id: 'm', kind: 'link-master', text: 'vnet0 master none', device: 'vnet0', master: 'virbr0'},
  {id: 'g', kind: 'guest-link', text: "<link state='down'/>", domain: 'web01', iface: 'vnet0'},
  {id: 'st', kind: 'stp', text: 'port blocking', device: 'virbr0'},
  {id: 'rt1', kind: 'route', text: 'no route (no default route)', ipFamily: 4},
  {id: 'rt2', kind: 'route', text: 'no route (no default route)', ipFamily: 6},
  {id: 'rt3', kind: 'route', text: 'blackhole 203.0.113.0/24', route: {type: 'blackhole', dst: '203.0.113.0/24', table: 'main'}},
  {id: 'pr', kind: 'policy-rule', text: 'ip rule 100', rulePriority: 100, ipFamily: 4},
  {id: 'd1', kind: 'listener', text: 'no DHCP server', network: 'default', service: 'dhcp'},
  {id: 'd2', kind: 'listener', text: 'no DNS server', network: 'default', service: 'dns'},
  {id: 'd3', kind: 'listener', text: 'dhcpd not running', server: 'isc-dhcp-server', service: 'dhcp'},
  {id: 'pl', kind: 'listener', text: 'pool exhausted', network: 'default', pool: true},
  {id: 'c', kind: 'listener', text: '10.0.0.5 claimed by two MACs', address: '10.0.0.5'},
  {id: 'x', kind: 'xdp', text: 'XDP program id 7 (generic) on eth0', device: 'eth0'},
  {id: 'wg', kind: 'wireguard', text: "WireGuard device wg0: peers' AllowedIPs not read", device: 'wg0'},
  {id: 'bp', kind: 'bridge-port', text: 'bridge link: vnet0 proxy_arp on', device: 'vnet0', portFlag: 'proxy_arp'},
]

describe('one judgement per fault', () => {
  it('every kind of datapath element has exactly one owner, which writes its undo', () => {
    for (const el of ELEMENTS) expect(ownershipOf(ALL_RULES, el).map((o) => o.rule.id), el.id).toHaveLength(1)
    const kinds = new Set(ELEMENTS.map((e) => e.kind))
    for (const kind of ['nf-rule', 'nf-policy', 'nf-nat-missing', 'nf-undecided', 'sysctl', 'rp-filter', 'link', 'link-master', 'guest-link', 'stp', 'route', 'policy-rule', 'listener']) expect(kinds).toContain(kind)
  })

  it('on every recording: every element has one owner, and is judged once (one specific pattern, or the general rule, or the owner on its own view)', async () => {
    let elements = 0
    for (const [name, m] of models) {
      const {findings} = await evaluate(m, ALL_RULES)
      for (const e of m.entities.element) {
        elements++
        expect(ownershipOf(ALL_RULES, e.element).length, `${name}: ${e.name}`).toBe(1)
        const on = findings.filter((f) => f.entity.kind === 'element' && f.entity.name === e.name).map((f) => f.id)
        expect(on.length, `${name}: ${e.name} judged by ${on.join(', ')}`).toBeLessThanOrEqual(1)
      }
    }
    expect(elements).toBeGreaterThan(30)
  })
})

describe('derivations return facts: no view holds a command', () => {
  const COMMAND = /^(virsh |sysctl -w|ip (link|route|rule|addr) (set|add|del)|systemctl |modprobe |dhcp_release |nft (delete|insert|add|-a list)|(ip6?tables(-legacy)?) .*(-[DIP] |--list-rules)|firewall-cmd )/
  it('every string of every view of every recording is a fact, not a command to run', () => {
    const found: string[] = []
    const walk = (v: unknown, path: string) => {
      if (typeof v === 'string') {
        if (COMMAND.test(v)) found.push(`${path}: ${v}`)
      } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`))
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`)
    }
    for (const [name, m] of models) for (const [scope, views] of Object.entries(m.entities)) views.forEach((v, i) => walk(v, `${name} ${scope}[${i}]`))
    expect(found).toEqual([])
  })
})
