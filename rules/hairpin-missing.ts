import {shellQuote} from '../src/lib/shell.js'
import {DATAPATH_REQUIRES} from './datapath.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'hairpin-missing',
  severity: 'low',
  scope: 'forward',
  appliesTo: (e) => e.direct === false,
  title: 'The published port {name} works from outside only: {hairpinWho} cannot use {hostAddress}',
  requires: DATAPATH_REQUIRES,
  // The host's or another guest's round trip fails while the outside's does not (fix that one first).
  conditions: {
    all: [
      {fact: 'entity', path: 'outsideVerdict', operator: 'notEqual', value: 'fail'},
      {
        any: [
          {fact: 'entity', path: 'hostHairpinVerdict', operator: 'equal', value: 'fail'},
          {fact: 'entity', path: 'guestHairpinVerdict', operator: 'equal', value: 'fail'},
        ],
      },
    ],
  },
  derive: (e) => {
    const host = e.hostHairpinVerdict === 'fail'
    const guest = e.guestHairpinVerdict === 'fail'
    const target = `${e.targetAddress}:${e.targetPort}`
    // Every value the host gave is quoted for the shell.
    const q = (v: unknown) => shellQuote(String(v))
    const dnat = `-p ${q(e.proto)} -m ${q(e.proto)} --dport ${q(e.port)} -j DNAT --to-destination ${q(target)}`
    const to = e.hostAddress ? `-d ${q(`${e.hostAddress}/32`)} ` : '-m addrtype --dst-type LOCAL '
    const iptables = e.ruleBackend === 'iptables-legacy' ? 'iptables-legacy' : 'iptables'
    const lines: string[] = []
    if (e.ruleBackend !== 'nft') {
      // The host's own connections: a DNAT in nat OUTPUT for exactly the published address and port.
      if (host) lines.push(`${iptables} -t nat -I OUTPUT ${to}${dnat}`)
      if (guest && e.bridge && !e.guestHairpinTranslated) lines.push(`${iptables} -t nat -I PREROUTING -i ${q(e.bridge)} ${to}${dnat}`)
      // Guests on the target's subnet: translate the source of DNATed guest-to-guest connections only, so the answer comes back through the host.
      if (guest && e.subnet) lines.push(`${iptables} -t nat -I POSTROUTING -s ${q(e.subnet)} -d ${q(`${e.targetAddress}/32`)} -p ${q(e.proto)} -m ${q(e.proto)} --dport ${q(e.targetPort)} -m conntrack --ctstate DNAT -j MASQUERADE`)
    }
    return {
      hairpinWho: host && guest ? 'the host and other guests' : host ? 'the host itself' : 'other guests',
      hairpinFix: lines,
      hairpinNote: e.ruleBackend === 'nft' ? [`the forward is an nft rule (${e.ruleFamily} ${e.ruleTable} ${e.ruleChain}): add the same dnat to a nat output chain of that table for the host, and a masquerade for ${e.subnet ?? "the guests' subnet"} to ${target} with ct status dnat for the guests`] : [],
    }
  },
  summary: 'The forward of {proto} port {port} to {targetAddress}:{targetPort} works for clients outside, but not by the published address from here. From the host: {hostHairpinDetail}. From another guest: {guestHairpinDetail}.',
  evidence: ['{rules}', '{flows}'],
  fix: ['{hairpinFix}'],
  note: ['{hairpinNote}', 'or have the host and the guests use {targetAddress}:{targetPort} directly'],
}
