/**
 * The topology as a graph for pictures (Mermaid in Markdown, SVG in HTML):
 * uplinks → host → libvirt networks → bridges → (taps) → guests, left to right,
 * each node with a few lines of facts, its health and its findings; a tap is
 * the edge from its bridge to its guest.
 */
import {type FindingMark, type Health, type Topology, firstStoppedFlow} from '../src/result/topology.js'
import {mermaidText} from './escape.js'

export type GraphNodeKind = 'host' | 'uplink' | 'network' | 'bridge' | 'guest'

export interface GraphNode {
  id: string
  kind: GraphNodeKind
  title: string
  lines: string[]
  health: Health
  findings: FindingMark[]
}

export interface GraphEdge {
  from: string
  to: string
  label?: string
  /** Drawn dashed: a relation that is configured but not live (a shut-off guest, an inactive network). */
  dashed?: boolean
  health?: Health
  /** The tap this edge stands for. */
  tap?: string
}

export interface Graph {
  nodes: GraphNode[]
  edges: GraphEdge[]
}

export function topologyGraph(t: Topology): Graph {
  const nodes: GraphNode[] = []
  const edges: GraphEdge[] = []
  const h = t.host
  nodes.push({
    id: h.id,
    kind: 'host',
    title: `host ${h.name}`,
    lines: [h.ipForward === null ? 'forwarding unknown' : h.ipForward === 1 ? 'forwarding on' : 'forwarding OFF', ...(h.defaultRoutes.length > 0 ? h.defaultRoutes : ['no default route'])],
    health: h.health,
    findings: h.findings,
  })
  for (const u of t.uplinks) {
    nodes.push({id: u.id, kind: 'uplink', title: `uplink ${u.name}`, lines: [`${u.state}${u.mtu ? ` mtu ${u.mtu}` : ''}`, ...u.addresses, ...u.defaultRoutes.map((r) => `gw ${r.gateway ?? 'none'} metric ${r.metric}`)], health: u.health, findings: u.findings})
    edges.push({from: u.id, to: h.id, ...(u.defaultRoutes.length > 0 ? {label: 'default route'} : {}), health: u.health})
  }
  for (const n of t.networks) {
    const dnsmasq = n.dnsmasq.running === null ? [] : [n.dnsmasq.running ? `dnsmasq ${n.dnsmasq.pids.join(', ')}` : 'no dnsmasq']
    nodes.push({
      id: n.id,
      kind: 'network',
      title: `network ${n.name}`,
      lines: [`${n.mode}${n.active ? '' : ', inactive'}${n.forwardDev ? ` via ${n.forwardDev}` : ''}`, ...(n.subnet ? [n.subnet] : []), ...(n.dhcpRanges.length > 0 ? [`DHCP ${n.dhcpRanges.join(', ')}`] : []), ...dnsmasq],
      health: n.health,
      findings: n.findings,
    })
    edges.push({from: h.id, to: n.id, dashed: !n.active, health: n.health})
  }
  for (const b of t.bridges) {
    nodes.push({
      id: b.id,
      kind: 'bridge',
      title: `bridge ${b.name}`,
      lines: [`${b.exists ? b.state : 'absent'}${b.mtu ? ` mtu ${b.mtu}` : ''}`, ...(b.stp?.on ? [`STP delay ${b.stp.forwardDelaySeconds} s`] : []), ...b.ports.map((p) => `port ${p.name} ${p.state}`)],
      health: b.health,
      findings: b.findings,
    })
    edges.push({from: b.network ? `network:${b.network}` : h.id, to: b.id, dashed: !b.exists, health: b.health})
    // A tap is the link between its bridge and its guest: drawn as that edge, named by its label.
    for (const tap of b.taps) {
      const trouble = tap.health === 'ok' ? '' : ` ${!tap.exists ? 'missing' : tap.master === b.name ? tap.state : `on ${tap.master ?? 'no bridge'}`}`
      edges.push({from: b.id, to: `guest:${tap.guest}`, label: `${tap.name}${trouble}`, health: tap.health, tap: tap.name})
    }
  }
  const attached = new Set(edges.map((e) => e.to))
  for (const g of t.guests) {
    const stopped = firstStoppedFlow(g)
    nodes.push({
      id: g.id,
      kind: 'guest',
      title: g.name,
      lines: [
        g.state,
        ...g.interfaces.flatMap((i) => [i.mac ?? '', i.addresses.join(', ') || (g.running ? 'no address seen' : ''), i.verdict && i.verdict !== 'ok' && i.verdict !== 'shut off' ? i.verdict : ''].filter(Boolean)),
        ...(stopped?.decidedBy ? [`${stopped.kind} ${stopped.verdict === 'fail' ? 'stops' : '?'} at ${stopped.decidedBy.name}`] : []),
      ],
      health: g.health,
      findings: g.findings,
    })
    if (attached.has(g.id)) continue
    // Not on a tap: macvtap guests hang off their uplink, shut-off ones off their bridge or network, dashed.
    for (const i of g.interfaces) {
      const from = i.type === 'direct' && i.bridge ? `uplink:${i.bridge}` : i.bridge && t.bridges.some((b) => b.name === i.bridge) ? `bridge:${i.bridge}` : i.network ? `network:${i.network}` : undefined
      if (from && nodes.some((n) => n.id === from)) edges.push({from, to: g.id, dashed: !g.running, ...(i.type === 'direct' ? {label: 'macvtap'} : {}), health: g.health})
    }
  }
  return {nodes, edges}
}

/** A Mermaid flowchart of the graph, failing elements in red, inactive ones dashed and grey. */
export function topologyMermaid(g: Graph): string[] {
  const ids = new Map(g.nodes.map((n, i) => [n.id, `n${i}`]))
  const out = ['flowchart LR']
  for (const n of g.nodes) {
    const marks = n.findings.filter((f) => f.severity !== 'info').map((f) => `${f.rank}. ${f.id}`)
    const label = [`<b>${mermaidText(n.title)}</b>`, ...n.lines.map(mermaidText), ...marks.map((m) => `⚠ ${mermaidText(m)}`)].join('<br/>')
    out.push(`  ${ids.get(n.id)}["${label}"]:::${n.health}`)
  }
  g.edges.forEach((e) => {
    if (!ids.has(e.from) || !ids.has(e.to)) return
    const arrow = e.dashed ? '-.->' : '-->'
    out.push(`  ${ids.get(e.from)} ${arrow}${e.label ? `|"${mermaidText(e.label)}"|` : ''} ${ids.get(e.to)}`)
  })
  out.push(
    '  classDef ok fill:#eef8ee,stroke:#2e7d32,color:#111',
    '  classDef warn fill:#fff6e0,stroke:#b26a00,color:#111',
    '  classDef fail fill:#fdeaea,stroke:#c62828,stroke-width:3px,color:#111',
    '  classDef off fill:#f2f2f2,stroke:#888,stroke-dasharray:4 3,color:#555',
    '  classDef unknown fill:#f2f2f2,stroke:#888,color:#555',
  )
  return out
}
