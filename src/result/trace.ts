/** `kvmdoctor trace`'s answer: one guest's flows through the host, hop by hop. */
import type {ProbeStatus, ResultFlow, SosSourceDescription} from './diagnosis.js'

export interface TraceResult {
  host: string
  capturedAt: string
  guest: string
  state: string
  flows: ResultFlow[]
  /** Why the flows could not be followed (a probe the datapath needs failed). */
  unavailable?: string
  probes: ProbeStatus[]
  /** What it was read from, when it is a sosreport. */
  source?: SosSourceDescription
}
