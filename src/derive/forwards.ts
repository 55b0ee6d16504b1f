/**
 * Forward entities: one per published port (a DNAT of the ruleset, a hook's forward, a --publish),
 * with where it leads, how its inbound round trips end (from outside, from the host, from another
 * guest) and what decides each, the hook rules behind it and whether they stand in the ruleset,
 * and which firewall managers own the host's packet filter. Facts only: the rules judge.
 */
import type {HookFacts, HookScript} from '../../probes/libvirt-hooks.js'
import {type AcceptIntent, acceptOf} from '../../probes/netfilter/forwards.js'
import {dataOf} from '../../probes/types.js'
import type {DatapathDerivation} from '../datapath/derive.js'
import type {Element} from '../datapath/elements.js'
import {CONNTRACK_PRIORITY, NAT_CORE_PRIORITY} from '../datapath/netfilter/compile.js'
import type {Flow, FlowKind, Hop} from '../datapath/flows.js'
import {type Forward, unheldTarget} from '../datapath/published.js'
import {networkOf} from '../lib/addr.js'
import type {NfRuleset} from '../lib/netfilter.js'
import type {DeriveContext} from './context.js'
import type {ForwardView} from './types.js'

/**
 * How a netfilter element's chain sees a forward's packets, by its hook and priority: the DNAT is made by nat's
 * prerouting chain (-100), the reply's source put back by postrouting's (100); conntrack attaches the connection at
 * -200 in prerouting; a packet's output device is known from forward on, its input device until postrouting.
 */
function chainSees(e: Element | undefined, reply: boolean): ForwardView['chainSees'] {
  if (!e?.hook || (e.kind !== 'nf-rule' && e.kind !== 'nf-policy')) return null
  const priority = e.priority ?? 0
  const natAt = (reply ? NAT_CORE_PRIORITY.postrouting : NAT_CORE_PRIORITY.prerouting) ?? 0
  const translated = reply ? !(e.hook === 'postrouting' && priority > natAt) : !(e.hook === 'prerouting' && priority <= natAt)
  return {
    translated,
    tracked: e.hook !== 'prerouting' || priority > CONNTRACK_PRIORITY,
    inDevice: e.hook !== 'postrouting' && e.hook !== 'output',
    outDevice: e.hook !== 'prerouting' && e.hook !== 'input',
  }
}

/** The first flow of a round trip that does not pass, and the hop that decides it. */
function stop(flows: Flow[], kinds: FlowKind[]): {flow: Flow; hop: Hop} | undefined {
  const these = kinds.map((k) => flows.find((f) => f.kind === k)).filter((f): f is Flow => f !== undefined)
  const failing = these.find((f) => f.verdict === 'fail') ?? these.find((f) => f.verdict === 'indeterminate')
  return failing?.decidedBy ? {flow: failing, hop: failing.decidedBy} : undefined
}

const verdictOf = (flows: Flow[], kinds: FlowKind[]): ForwardView['outsideVerdict'] => {
  const these = flows.filter((f) => kinds.includes(f.kind))
  if (these.length === 0) return null
  return these.some((f) => f.verdict === 'fail') ? 'fail' : these.some((f) => f.verdict === 'indeterminate') ? 'indeterminate' : 'pass'
}

/** Accept rules of the filter tables (forward hook), as intents: what a hook's accept is looked for among. */
function forwardAccepts(rs: NfRuleset): AcceptIntent[] {
  const out: AcceptIntent[] = []
  for (const t of rs.tables) {
    if (t.family !== 'ip' && t.family !== 'inet') continue
    for (const c of Object.values(t.chains)) for (const r of c.rules) {
      const a = acceptOf(r.exprs)
      if (a && a.addr) out.push(a)
    }
  }
  return out
}

const sameAccept = (want: AcceptIntent, have: AcceptIntent) => have.addr === want.addr && (want.port === undefined || have.port === undefined || have.port === want.port) && (want.proto === undefined || have.proto === undefined || have.proto === want.proto)

/** The firewall managers whose rules stand in the ruleset (the place a fix belongs to). */
export function firewallManagers(rs: NfRuleset | undefined, firewalldRunning: boolean | undefined): string[] {
  if (!rs) return []
  const chains = (name: (c: string) => boolean) => rs.tables.some((t) => Object.keys(t.chains).some(name))
  return [
    ...(firewalldRunning || rs.tables.some((t) => t.backend === 'nft' && t.name === 'firewalld') ? ['firewalld'] : []),
    ...(chains((c) => c.startsWith('ufw-')) ? ['ufw'] : []),
    ...(chains((c) => c === 'DOCKER-USER') ? ['docker'] : []),
  ]
}

const forwardRule = (r: RuleSource['rule']): ForwardView['rule'] & {} => ({backend: r.backend, family: r.family, table: r.table, chain: r.chain, position: r.index + 1, handle: r.handle ?? null, text: r.text})
type RuleSource = Extract<Forward['sources'][number], {kind: 'rule'}>

export function forwardViews(ctx: DeriveContext, datapath: DatapathDerivation): ForwardView[] {
  if (!datapath.ok || datapath.datapath.forwards.length === 0) return []
  const flowsOf = new Map<string, Flow[]>()
  for (const f of datapath.datapath.flows) if (f.forward) (flowsOf.get(f.forward) ?? flowsOf.set(f.forward, []).get(f.forward)!).push(f)
  const rs = ctx.facts.netfilter
  const hooks = dataOf<HookFacts>(ctx.facts.probes['libvirt-hooks'])
  const accepts = rs ? forwardAccepts(rs) : []
  const managers = firewallManagers(rs, ctx.facts.firewalld?.running)
  return datapath.datapath.forwards.map((f) => view(ctx, f, flowsOf.get(f.id) ?? [], hooks, accepts, managers))
}

function view(ctx: DeriveContext, f: Forward, flows: Flow[], hooks: HookFacts | undefined, accepts: AcceptIntent[], managers: string[]): ForwardView {
  const outside = stop(flows, ['inbound', 'inbound-reply'])
  const fromHost = stop(flows, ['hairpin-host', 'hairpin-host-reply'])
  const fromGuest = stop(flows, ['hairpin-guest', 'hairpin-guest-reply'])
  const e = outside?.hop.element
  const rules = f.sources.flatMap((s) => (s.kind === 'rule' ? [s.rule] : []))
  // The rule outside packets meet (nat prerouting), else the host's own (nat output).
  const rule = (f.sources.find((s) => s.kind === 'rule' && s.hook === 'prerouting') ?? f.sources.find((s) => s.kind === 'rule')) as RuleSource | undefined
  const hookSources = f.sources.flatMap((s) => (s.kind === 'hook' ? [s] : []))
  // What the hooks behind this forward add, and whether each stands in the ruleset now.
  const scripts = (hooks?.scripts ?? []).filter((s: HookScript) => hookSources.some((h) => h.path === s.path))
  const hookAccepts = scripts.flatMap((s) => s.accepts.filter((a) => a.addr === f.target.addr && (a.port === undefined || a.port === f.target.port)).map((a) => ({...a, path: s.path})))
  // Unknown (null) when the hooks could not be read: a recording made before the probe existed, an unreadable directory.
  const hookRulesMissing = hooks
    ? [
        ...(rules.length === 0 ? hookSources.map((h) => `${h.path} (${h.at}): DNAT ${f.proto} ${f.hostAddress ? `${f.hostAddress}:` : ''}${f.port} to ${f.target.addr}:${f.target.port}`) : []),
        ...hookAccepts.filter((a) => !accepts.some((have) => sameAccept(a, have))).map((a) => `${a.path} (${a.at}): accept ${a.proto ?? 'any'} to ${a.addr}${a.port !== undefined ? ` port ${a.port}` : ''}${a.outDevice ? ` out of ${a.outDevice}` : ''}`),
      ]
    : null
  const who = f.guest ?? f.formerHolder
  const flowNetwork = flows.find((x) => x.network)?.network
  const network = flowNetwork ? ctx.networkByName.get(flowNetwork) : undefined
  const hookObject = hookSources.find((h) => h.object)?.object
  const runningNames = new Set(ctx.domains.filter((d) => ['running', 'paused', 'idle', 'in shutdown', 'blocked'].includes(d.state)).map((d) => d.name))
  return {
    kind: 'forward' as const,
    name: f.id,
    context: {host: ctx.hostname, domain: who?.name, network: network?.name, bridge: network?.bridge, mac: who?.mac},
    affectedGuests: f.guest ? 1 : 0,
    proto: f.proto,
    port: f.port,
    hostAddress: f.hostAddress ?? null,
    inDevice: f.inDevice ?? null,
    hairpinAddress: f.hairpinAddress ?? null,
    targetAddress: f.target.addr,
    targetPort: f.target.port,
    direct: f.direct ?? false,
    foundBy: [...new Set(f.sources.map((s) => s.kind))].sort(),
    rules: rules.map((r) => `${r.backend === 'nft' ? `nft ${r.family} ${r.table} ${r.chain}: ` : `${r.backend === 'iptables-legacy' ? 'iptables-legacy' : 'iptables'} -t ${r.table} `}${r.text}`),
    hookFiles: [...new Set(hookSources.map((h) => h.path))],
    hookObject: hookObject ?? null,
    hookObjectRunning: hookObject ? runningNames.has(hookObject) : null,
    hookRulesMissing,
    published: f.sources.some((s) => s.kind === 'publish'),
    rule: rule ? forwardRule(rule.rule) : null,
    dnatRules: [...(rule ? [rule.rule] : []), ...rules.filter((r) => r !== rule?.rule)].map(forwardRule),
    targetNetwork: network?.name ?? null,
    subnet: network?.ips.filter((ip) => ip.family === 'ipv4').map((ip) => networkOf(`${ip.address}/${ip.prefix}`))[0] ?? null,
    targetGuest: f.guest?.name ?? null,
    targetIsHost: ctx.facts.links ? ctx.facts.links.some((l) => l.addresses.some((a) => a.address === f.target.addr)) : null,
    targetHolder: who?.name ?? unheldTarget(f),
    targetMac: f.guest?.mac ?? null,
    formerHolder: f.formerHolder?.name ?? null,
    formerHolderMac: f.formerHolder?.mac ?? null,
    formerHolderNow: f.formerHolder?.now ?? null,
    targetMaybeHeldBy: [...new Set((f.maybeHolders ?? []).map((m) => m.name))],
    // The MAC the network's static DHCP hosts give the target address: a guest pinned there takes it back at its next renewal.
    targetPinnedTo: network?.ips.flatMap((ip) => ip.dhcpHosts).find((h) => h.ip === f.target.addr && h.mac !== undefined)?.mac?.toLowerCase() ?? null,
    bridge: network?.bridge ?? null,
    // The round trip from outside: its verdict and, where it does not pass, the flow, hop and element that decide.
    outsideVerdict: verdictOf(flows, ['inbound', 'inbound-reply']),
    outsideFlow: outside?.flow.kind ?? null,
    outsideHop: outside?.hop.name ?? null,
    outsideDetail: outside?.hop.detail ?? null,
    element: e ?? null,
    chainSees: chainSees(e, outside?.flow.kind === 'inbound-reply'),
    elementKind: e?.kind ?? null,
    elementText: e?.text ?? null,
    hostHairpinVerdict: verdictOf(flows, ['hairpin-host', 'hairpin-host-reply']),
    hostHairpinDetail: fromHost?.hop.detail ?? null,
    guestHairpinVerdict: verdictOf(flows, ['hairpin-guest', 'hairpin-guest-reply']),
    guestHairpinDetail: fromGuest?.hop.detail ?? null,
    guestHairpinTranslated: flows.some((x) => x.kind === 'hairpin-guest' && x.hops.some((h) => h.name === 'DNAT' && h.verdict === 'pass')),
    firewallManagers: managers,
    firewalldZone: network?.bridge ? (ctx.facts.firewalld?.zones[network.bridge] ?? null) : null,
    // The verdict first: "pass: from …" would read as a credential to the scrubber.
    flows: flows.map((x) => `${x.verdict.toUpperCase()} ${x.kind}: ${x.description}${x.decidedBy && x.verdict !== 'pass' ? ` (at ${x.decidedBy.name}: ${x.decidedBy.detail})` : ''}`),
    assumptions: [...new Set(flows.flatMap((x) => x.assumptions ?? []))],
  }
}
