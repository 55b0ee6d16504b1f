/**
 * What rules are evaluated on: entities derived from probe facts, one kind per
 * module of src/derive/. Each view holds facts and plain joins; judgements
 * (thresholds, "is this wrong") belong to the rules.
 */
import type {ProbeResult} from '../../probes/types.js'
import type {DatapathDerivation} from '../datapath/derive.js'
import type {Destination} from '../datapath/flows.js'
import type {PublishRequest} from '../datapath/published.js'

export type EntityKind = 'host' | 'network' | 'link' | 'domain' | 'interface' | 'apipa' | 'address' | 'dhcp-service' | 'element' | 'forward'

/** Names that relate a finding to others (for root-cause grouping and fix templates). */
export interface EntityContext {
  host?: string
  network?: string
  bridge?: string
  domain?: string
  mac?: string
  link?: string
}

export interface EntityView {
  kind: EntityKind
  name: string
  context: EntityContext
  /** Running guests this entity's failure would cut off (blast radius). */
  affectedGuests: number
  /** Why an attribute that is null is unknown (the failed read behind it), for "not checked" reasons. */
  unknownBecause?: Record<string, string>
  [attribute: string]: unknown
}

export interface Model {
  capturedAt: Date
  hostname: string
  probes: Record<string, ProbeResult>
  entities: Record<EntityKind, EntityView[]>
  /** Every running guest's flows through the host, or why they could not be followed. */
  datapath: DatapathDerivation
}

export interface ModelOptions {
  /** What stands for the internet in egress flows (and for the outside in inbound ones). */
  internet?: Destination
  /** Services the user expects reachable from outside (--publish GUEST:PORT/PROTO). */
  publish?: PublishRequest[]
}
