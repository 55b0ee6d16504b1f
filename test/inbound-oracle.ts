/**
 * The inbound scenarios' oracle: real connections to a published port, from a client outside (the lab
 * internet's namespace) and from the host itself, recorded in fixtures/<name>/inbound.json, and
 * kvmdoctor's inbound flows judged against them (live and on replay).
 */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {expect} from 'vitest'
import type {Flow} from '../src/datapath/flows.js'

/** The published port every inbound scenario forwards: the lab host's uplink address, port 8080, to a guest's port 80. */
export const PUBLISHED = {hostAddress: '198.51.100.1', port: 8080, guestPort: 80}
/** What a lab guest's HTTP server answers (test/lab/guest/init). */
export const GUEST_MARK = 'KDLAB-GUEST-OK'

export interface InboundMeasure {
  /** outside: from the lab internet's namespace (kvmdoctor's outside stand-in); host: from the host itself. */
  from: 'outside' | 'host'
  client: string
  /** The guest's HTTP answer came back through the forward. */
  answered: boolean
  /** What the client printed (its answer or its error), for the reader of a failure. */
  output: string
}

export interface InboundRecord {
  port: number
  measures: InboundMeasure[]
}

/** A scenario's expected connection results: true, the guest answered. */
export interface InboundExpect {
  outside: boolean
  host?: boolean
}

export function readInbound(fixture: string): InboundRecord | undefined {
  const file = join(fixture, 'inbound.json')
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as InboundRecord) : undefined
}

/** The connections came out as the scenario says (its fault was really there). */
export function checkInboundOracle(name: string, want: InboundExpect, record: InboundRecord): void {
  const got = (from: InboundMeasure['from']) => record.measures.find((m) => m.from === from)
  expect(got('outside')?.answered, `${name}: a client outside through ${PUBLISHED.hostAddress}:${record.port} (${got('outside')?.output})`).toBe(want.outside)
  if (want.host !== undefined) expect(got('host')?.answered, `${name}: the host itself through ${PUBLISHED.hostAddress}:${record.port} (${got('host')?.output})`).toBe(want.host)
}

const FLOW_OF: Record<InboundMeasure['from'], Flow['kind']> = {outside: 'inbound', host: 'hairpin-host'}

/**
 * kvmdoctor's verdict on each measured connection against what happened: a pass must have been answered,
 * a fail must not; an indeterminate flow claims nothing. A connection is answered only when its request and its
 * reply both pass (lab: inbound-reply-blocked, a drop of the guest's answers alone): the two flows are judged as one,
 * the first failing, else undecided, one deciding. A connection kvmdoctor follows no flow for is a disagreement when
 * it was answered (something published it that kvmdoctor did not see).
 */
export function inboundDisagreements(flows: Flow[], record: InboundRecord): string[] {
  const out: string[] = []
  for (const m of record.measures) {
    const flow = flows.find((f) => f.kind === FLOW_OF[m.from] && f.forward !== undefined && new RegExp(`(^|[ :])${record.port} ->`).test(f.forward))
    if (!flow) {
      if (m.answered) out.push(`${m.from}: the connection to port ${record.port} was answered, but kvmdoctor follows no ${FLOW_OF[m.from]} flow for it`)
      continue
    }
    const reply = flows.find((f) => f.replyTo === flow.kind && f.guest === flow.guest && f.forward === flow.forward)
    const both = [flow, ...(reply ? [reply] : [])]
    const failing = both.find((f) => f.verdict === 'fail')
    const undecided = both.some((f) => f.verdict === 'indeterminate')
    if (!failing && !undecided && !m.answered) out.push(`${m.from}: kvmdoctor passes ${both.map((f) => f.description).join(' and ')}, but the connection failed (${m.output})`)
    if (failing && m.answered) out.push(`${m.from}: kvmdoctor fails ${failing.description} at ${failing.decidedBy?.name}, but the guest answered`)
  }
  return out
}
