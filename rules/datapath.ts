/** What the rules on datapath elements share: the probes the datapath needs, and reading an element entity. */
import type {EntityView} from '../src/derive/index.js'

/** Without any of these the flows cannot be followed: such rules are "not checked". */
export const DATAPATH_REQUIRES = ['netfilter', 'routes', 'ip-rules', 'links', 'sysctl', 'libvirt']

export const bridgesOf = (e: EntityView): string[] => (Array.isArray(e.bridges) ? (e.bridges as string[]) : [])
export const undoOf = (e: EntityView): string[] => (Array.isArray(e.undo) ? (e.undo as string[]) : [])

/** The tool that edits an iptables element's table (iptables, ip6tables, their legacy twins). */
export function iptablesTool(e: EntityView): string {
  const six = e.nfFamily === 'ip6'
  return e.backend === 'iptables-legacy' ? (six ? 'ip6tables-legacy' : 'iptables-legacy') : six ? 'ip6tables' : 'iptables'
}
