import type {NfRuleset} from '../src/lib/netfilter.js'
import type {CommandCapture} from '../src/core/runner.js'
import {detectIptablesVariant} from './netfilter/iptables-save.js'
import {type IptablesSource, buildRuleset} from './netfilter/ruleset.js'
import {type Probe, ProbeUnavailable} from './types.js'

/** Every packet filter of the host as one lossless ruleset: iptables (both variants, both families), native nftables, ipsets. */
export interface NetfilterFacts extends NfRuleset {
  /** What could not be read and what that leaves unseen (an IPv6 listing, ipsets): the rest is complete. */
  gaps: string[]
  /** The variant `iptables` is on this system (its save header), when it is installed. */
  iptablesVariant?: 'nf_tables' | 'legacy'
  /** iptables-nft warned that legacy tables hold rules too ("iptables-legacy tables present"). */
  legacyTablesWarning: boolean
}

// -c: each rule's packet counters are evidence ("this DROP matched 1234 packets").
const SAVES: {argv: string[]; family: 'ip' | 'ip6'; backend: IptablesSource['backend']}[] = [
  {argv: ['iptables-save', '-c'], family: 'ip', backend: undefined},
  {argv: ['ip6tables-save', '-c'], family: 'ip6', backend: undefined},
  {argv: ['iptables-legacy-save', '-c'], family: 'ip', backend: 'iptables-legacy'},
  {argv: ['ip6tables-legacy-save', '-c'], family: 'ip6', backend: 'iptables-legacy'},
]

const absent = (c: CommandCapture) => c.errorCode === 'not-found'

export const netfilterProbe: Probe<NetfilterFacts> = {
  id: 'netfilter',
  title: 'Packet filter (iptables, nftables, ipset) as one ruleset',
  reads: [...SAVES.map((s) => s.argv.join(' ')), 'nft -j list ruleset', 'nft -a list ruleset', 'ipset list'],
  async collect({runner}) {
    const [saves, nftJson, nftText, ipset] = await Promise.all([
      Promise.all(SAVES.map((s) => runner.run(s.argv))),
      runner.run(['nft', '-j', 'list', 'ruleset']),
      runner.run(['nft', '-a', 'list', 'ruleset']),
      runner.run(['ipset', 'list']),
    ])
    const gaps: string[] = []
    const [v4] = saves
    // The IPv4 filter decides every guest flow kvmdoctor follows: without it nothing can be told.
    if (v4.error !== undefined && !absent(v4)) throw new ProbeUnavailable(`iptables-save: ${v4.error}`)
    if (nftJson.error !== undefined && !absent(nftJson)) throw new ProbeUnavailable(`nft -j list ruleset: ${nftJson.error}`)
    if (absent(v4) && absent(nftJson)) throw new ProbeUnavailable('neither iptables-save nor nft is installed: the packet filter cannot be read')
    // iptables-nft and native tables share nf_tables: without nft the native ones are unseen, and could drop anything.
    if (absent(nftJson) && /\(nf_tables\)/.test(v4.output)) throw new ProbeUnavailable('nft is not installed: native nftables tables cannot be read (apt install nftables)')
    const iptables: IptablesSource[] = []
    saves.forEach((capture, i) => {
      const spec = SAVES[i]
      if (capture.error === undefined) iptables.push({text: capture.output, family: spec.family, backend: spec.backend})
      else if (!absent(capture) && i > 0) gaps.push(`${spec.argv[0]}: ${capture.error}`)
    })
    if (ipset.error !== undefined && !absent(ipset)) gaps.push(`ipset list: ${ipset.error} (sets it holds are unknown)`)
    const ruleset = buildRuleset({
      iptables,
      ...(nftJson.error === undefined ? {nft: {json: nftJson.output, ...(nftText.error === undefined ? {text: nftText.output} : {})}} : {}),
      ...(ipset.error === undefined ? {ipset: ipset.output} : {}),
    })
    const variant = detectIptablesVariant(v4.output)
    return {
      ...ruleset,
      gaps,
      ...(variant ? {iptablesVariant: variant === 'iptables-nft' ? 'nf_tables' : 'legacy'} : {}),
      // iptables-nft prints the warning on stderr, older versions in the output.
      legacyTablesWarning: /iptables-legacy tables present/.test(v4.stderr + v4.output),
    }
  },
}
