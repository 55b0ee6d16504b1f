/**
 * The topology graph as an SVG, laid out by dagre (in Node, no browser): left
 * to right from uplinks to guests, boxes coloured by health, findings named in
 * the boxes and linked to their details. Text is monospace so box sizes can be
 * measured here, without a DOM.
 */
import {Graph, layout} from '@dagrejs/dagre'
import {html} from './escape.js'
import {stringWidth} from './layout.js'
import type {Graph as TopoGraph} from './topology-graph.js'

const CHAR = 7.3
const LINE = 16
const PAD = 10

export function topologySvg(g: TopoGraph, options: {findingHref?: (rank: number) => string} = {}): string {
  const href = options.findingHref ?? ((rank: number) => `#finding-${rank}`)
  const graph = new Graph()
  graph.setGraph({rankdir: 'LR', nodesep: 18, ranksep: 44, marginx: 12, marginy: 12})
  graph.setDefaultEdgeLabel(() => ({}))
  const marks = (n: TopoGraph['nodes'][number]) => n.findings.filter((f) => f.severity !== 'info')
  for (const n of g.nodes) {
    const text = [n.title, ...n.lines, ...marks(n).map((f) => `⚠ ${f.rank}. ${f.id}`)]
    const width = Math.max(90, ...text.map((t) => stringWidth(t) * CHAR)) + 2 * PAD
    graph.setNode(n.id, {width, height: text.length * LINE + 2 * PAD - 4})
  }
  for (const e of g.edges) if (graph.hasNode(e.from) && graph.hasNode(e.to)) graph.setEdge(e.from, e.to, e.label ? {label: e.label, width: stringWidth(e.label) * CHAR, height: LINE} : {})
  layout(graph)
  const {width = 0, height = 0} = graph.graph()
  const parts: string[] = []
  for (const e of g.edges) {
    const laid = graph.edge(e.from, e.to)
    if (!laid?.points) continue
    const d = laid.points.map((p: {x: number; y: number}, i: number) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ')
    parts.push(`<path class="edge ${e.dashed ? 'dashed ' : ''}${e.health ?? ''}" d="${d}" marker-end="url(#arrow)"/>`)
    if (e.label && laid.x !== undefined && laid.y !== undefined) parts.push(`<text class="edge-label ${e.health ?? ''}" x="${laid.x.toFixed(1)}" y="${laid.y.toFixed(1)}" text-anchor="middle">${html(e.label)}</text>`)
  }
  for (const n of g.nodes) {
    const laid = graph.node(n.id)
    const x = laid.x - laid.width / 2
    const y = laid.y - laid.height / 2
    const rows = [
      `<text class="title" x="${(x + PAD).toFixed(1)}" y="${(y + PAD + 11).toFixed(1)}">${html(n.title)}</text>`,
      ...n.lines.map((l, i) => `<text x="${(x + PAD).toFixed(1)}" y="${(y + PAD + 11 + (i + 1) * LINE).toFixed(1)}">${html(l)}</text>`),
      ...marks(n).map(
        (f, i) =>
          `<a href="${html(href(f.rank))}"><text class="finding ${f.severity}" x="${(x + PAD).toFixed(1)}" y="${(y + PAD + 11 + (n.lines.length + 1 + i) * LINE).toFixed(1)}">⚠ ${html(`${f.rank}. ${f.id}`)}</text></a>`,
      ),
    ]
    parts.push(
      `<g class="node ${n.kind} ${n.health}" id="${html(`node-${n.id}`)}"><title>${html(`${n.title} (${n.health})`)}</title><rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${laid.width.toFixed(1)}" height="${laid.height.toFixed(1)}" rx="6"/>${rows.join('')}</g>`,
    )
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="topology" role="img" aria-label="Network topology of the host" viewBox="0 0 ${Math.ceil(width)} ${Math.ceil(height)}" width="${Math.ceil(width)}" height="${Math.ceil(height)}">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>',
    ...parts,
    '</svg>',
  ].join('\n')
}
