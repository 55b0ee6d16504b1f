/** Published ports on the healthy lab recording: the forwards an admin writes, and the model with --publish. */
import type {HookFacts} from '../probes/libvirt-hooks.js'
import type {Flow} from '../src/datapath/flows.js'
import type {PublishRequest} from '../src/datapath/published.js'
import {internetOf} from '../src/core/probe-runner.js'
import {buildModel} from '../src/derive/index.js'
import {evaluate} from '../src/core/engine.js'
import type {Rule} from '../rules/kit.js'
import {type Facts, factsOf, withIptablesRule} from './helpers.js'

export const HOST = '198.51.100.1'

/** The recording's model, with services the user publishes. */
export function inboundModel(facts: Facts, publish: PublishRequest[] = []) {
  return buildModel(facts.results, facts.capturedAt, {internet: facts.options ? internetOf(facts.options) : undefined, publish})
}

export function inbound(facts: Facts, publish: PublishRequest[] = []): Flow[] {
  const m = inboundModel(facts, publish)
  if (!m.datapath.ok) throw new Error(m.datapath.reason)
  return m.datapath.datapath.flows.filter((f) => f.forward)
}

/** The healthy lab host and web01's address there. */
export async function healthy(): Promise<{facts: Facts; web: string; mac: string}> {
  const facts = await factsOf('healthy')
  const m = inboundModel(facts)
  const flow = m.datapath.ok ? m.datapath.datapath.flows.find((f) => f.guest === 'kdlab-web01' && f.guestAddress) : undefined
  return {facts, web: flow!.guestAddress!, mac: flow!.mac!}
}

/** A forward as an admin writes it: the DNAT, and (optionally) the accept ahead of libvirt's reject. */
export function withForward(facts: Facts, target: string, accept = true, dnat = `-A PREROUTING -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${target}:80`): Facts {
  const withDnat = withIptablesRule(facts, 'nat', dnat)
  return accept ? withIptablesRule(withDnat, 'filter', `-A FORWARD -d ${target}/32 -o virbr0 -p tcp -m tcp --dport 80 -j ACCEPT`) : withDnat
}


/** One rule on the recording's model with --publish: the findings and the whole evaluation. */
export async function fireInbound(rule: Rule, facts: Facts, publish: PublishRequest[] = []) {
  const evaluation = await evaluate(inboundModel(facts, publish), [rule])
  return {findings: evaluation.findings, evaluation}
}

/** A qemu hook as the libvirt wiki writes it: web01's DNAT and its accept, added on start. */
export const hookFor = (guest: string, web: string, path = '/etc/libvirt/hooks/qemu'): HookFacts => ({
  scripts: [
    {
      path,
      kind: 'qemu',
      forwards: [{proto: 'tcp', port: 8080, hostAddress: HOST, target: {addr: web, port: 80}, object: guest, at: 'line 18'}],
      accepts: [{proto: 'tcp', addr: web, port: 80, outDevice: 'virbr0', object: guest, at: 'line 17'}],
      unread: [],
    },
  ],
})
