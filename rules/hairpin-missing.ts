import type {ForwardView} from '../src/derive/index.js'
import {DATAPATH, iptablesTool} from './datapath.js'
import {type FixStep, defineRule, text} from './kit.js'

/**
 * The DNAT for the host's own connections (nat OUTPUT) and for other guests' (nat PREROUTING on their
 * bridge), and a source NAT so a guest on the target's own subnet gets its answer back through the host.
 * Only for exactly the published address (the one the hairpin flows were judged for: a forward that names none, only
 * its in-device, is published on that device's address; every local address would take the host's own services on that
 * port, 127.0.0.1 and the guests' gateway included) and port; iptables forwards (an nft one is said in the note).
 */
function hairpinSteps(e: ForwardView): FixStep[] {
  if (!e.rule || e.rule.backend === 'nft' || e.hairpinAddress === null) return []
  const tool = iptablesTool({backend: e.rule.backend, family: 'ip'})
  const host = e.hostHairpinVerdict === 'fail'
  const guest = e.guestHairpinVerdict === 'fail'
  const dnat = ['-p', e.proto, '-m', e.proto, '--dport', String(e.port), '-j', 'DNAT', '--to-destination', `${e.targetAddress}:${e.targetPort}`]
  const to = ['-d', `${e.hairpinAddress}/32`]
  const steps: FixStep[] = []
  if (host) steps.push({argv: [tool, '-t', 'nat', '-I', 'OUTPUT', ...to, ...dnat]})
  if (guest && e.bridge && !e.guestHairpinTranslated) steps.push({argv: [tool, '-t', 'nat', '-I', 'PREROUTING', '-i', e.bridge, ...to, ...dnat]})
  // Guests on the target's subnet: translate the source of DNATed guest-to-guest connections only, so the answer comes back through the host.
  if (guest && e.subnet)
    steps.push({argv: [tool, '-t', 'nat', '-I', 'POSTROUTING', '-s', e.subnet, '-d', `${e.targetAddress}/32`, '-p', e.proto, '-m', e.proto, '--dport', String(e.targetPort), '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'MASQUERADE']})
  return steps
}

/** One hairpin's outcome in words: a pass only where its flow was followed, else why it was not. */
const hairpinSays = (verdict: ForwardView['hostHairpinVerdict'], detail: string | null, notFollowed: string) => (verdict === null ? `not checked (${notFollowed})` : (detail ?? 'it works'))

const who = (e: ForwardView) => {
  const host = e.hostHairpinVerdict === 'fail'
  const guest = e.guestHairpinVerdict === 'fail'
  return host && guest ? 'the host and other guests' : host ? 'the host itself' : 'other guests'
}

export default defineRule<ForwardView>({
  id: 'hairpin-missing',
  kind: 'forward',
  severity: 'low',
  needs: DATAPATH,
  appliesTo: (e) => !e.direct,
  // The host's or another guest's round trip fails while the outside's does not (fix that one first).
  conditions: (c) => c.all(c.ne('outsideVerdict', 'fail'), c.any(c.eq('hostHairpinVerdict', 'fail'), c.eq('guestHairpinVerdict', 'fail'))),
  title: (e) => text`The published port ${e.name} works from outside only: ${who(e)} cannot use ${e.hairpinAddress ?? e.hostAddress ?? `port ${e.port}`}`,
  summary: (e) =>
    text`The forward of ${e.proto} port ${e.port} to ${e.targetAddress}:${e.targetPort} works for clients outside, but not by the published address from here. From the host: ${hairpinSays(e.hostHairpinVerdict, e.hostHairpinDetail, 'the host address it is published on is not known')}. From another guest: ${hairpinSays(e.guestHairpinVerdict, e.guestHairpinDetail, 'no other running guest with a known address to try it from')}.`,
  evidence: (e) => [...e.rules, ...e.flows],
  fix: (e) => [hairpinSteps(e)],
  note: (e) => [
    e.rule?.backend === 'nft'
      ? `the forward is an nft rule (${e.rule.family} ${e.rule.table} ${e.rule.chain}): add the same dnat to a nat output chain of that table for the host, and a masquerade for ${e.subnet ?? "the guests' subnet"} to ${e.targetAddress}:${e.targetPort} with ct status dnat for the guests`
      : undefined,
    `or have the host and the guests use ${e.targetAddress}:${e.targetPort} directly`,
  ],
})
