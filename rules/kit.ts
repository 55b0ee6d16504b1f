/**
 * What a rule is made of. One fault, one file: `defineRule<View>({...})` with
 * the view it runs on, the probes it needs (references), its conditions as
 * json-rules-engine data over typed paths of that view (a wrong path does not
 * compile), its texts and fixes as functions of the typed view, the findings
 * it explains, and the datapath elements it owns.
 */
import type {NestedCondition, TopLevelCondition} from 'json-rules-engine'
import {PROBES} from '../probes/index.js'
import type {Probe} from '../probes/types.js'
import type {Element} from '../src/datapath/elements.js'
import type {ElementView, EntityContext, EntityKind, EntityView, HostView, Scope, ViewOf} from '../src/derive/index.js'
import type {Severity} from '../src/lib/severity.js'
import {type FixStep, nftWord, renderStep, shellWord, virshWord} from '../src/lib/fix.js'

/** What rules build fixes with from the leaf helpers: a device's sysctl key, and whether nft reads words as one command. */
export {deviceKey} from '../src/lib/sysctl-key.js'
export {nftOneCommand, nftWord} from '../src/lib/fix.js'

/** The probes a rule names in `needs`. */
export const probes = PROBES

/** Whether the kernel has a module (loaded or built in); undefined when that cannot be told. */
export {moduleAvailable} from '../probes/modules.js'

/** The qdiscs that only queue or shape (the fix judge deletes no other). */
export {SHAPING_QDISCS} from '../src/lib/tc-qdiscs.js'

/** The entity kind each scope's views are reported as. */
export const SCOPE_KIND: Record<Scope, EntityKind> = {
  host: 'host',
  network: 'network',
  link: 'link',
  domain: 'domain',
  interface: 'interface',
  apipa: 'apipa',
  address: 'address',
  'dhcp-service': 'dhcp-service',
  element: 'element',
  forward: 'forward',
  'ovs-bridge': 'link',
  'expected-network': 'network',
  'expected-guest': 'domain',
  'expected-host': 'host',
}

/** The scopes whose views are (or include) V. */
export type ScopeOf<V> = {[S in Scope]: ViewOf[S] extends V ? S : never}[Scope]

type Value = string | number | boolean | null | undefined | readonly unknown[] | object
/** A path a condition may read: a view attribute, or the length of a list attribute. */
export type Path<T> = {[K in keyof T & string]: NonNullable<T[K]> extends readonly unknown[] ? K | `${K}.length` : K}[keyof T & string]
type At<T, P> = P extends `${infer K}.length` ? (K extends keyof T ? number : never) : P extends keyof T ? T[P] : never
/** Another attribute of the same view as a condition's value (json-rules-engine compares fact with fact). */
export interface Field {
  fact: 'entity' | 'host'
  path: string
}

type Compare<T> = <P extends Path<T>>(path: P, value: At<T, P> | Field) => NestedCondition

/** Builders of json-rules-engine conditions over typed paths: `fact` is 'entity' (the view) or 'host'. */
export interface ConditionsOf<T> {
  all(...conditions: NestedCondition[]): TopLevelCondition & NestedCondition
  any(...conditions: NestedCondition[]): TopLevelCondition & NestedCondition
  not(condition: NestedCondition): TopLevelCondition & NestedCondition
  eq: Compare<T>
  ne: Compare<T>
  gt: Compare<T>
  gte: Compare<T>
  lt: Compare<T>
  lte: Compare<T>
  isIn<P extends Path<T>>(path: P, values: At<T, P>[]): NestedCondition
  /** A list attribute holds this value. */
  contains<P extends Path<T>>(path: P, value: NonNullable<At<T, P>> extends readonly (infer E)[] ? E : never): NestedCondition
  /** A list attribute holds something (its length is above 0). */
  nonEmpty<P extends Path<T>>(path: P & (NonNullable<At<T, P>> extends readonly unknown[] ? P : never)): NestedCondition
  /** Another attribute, as a value. */
  field(path: Path<T>): Field
  /** The same builders over the host's view. */
  host: Omit<ConditionsOf<HostView>, 'host' | 'all' | 'any' | 'not'>
}

function builders<T>(fact: 'entity' | 'host'): Omit<ConditionsOf<T>, 'host' | 'all' | 'any' | 'not'> {
  const op =
    (operator: string) =>
    (path: string, value: unknown): NestedCondition => ({fact, path, operator, value}) as NestedCondition
  return {
    eq: op('equal') as Compare<T>,
    ne: op('notEqual') as Compare<T>,
    gt: op('greaterThan') as Compare<T>,
    gte: op('greaterThanInclusive') as Compare<T>,
    lt: op('lessThan') as Compare<T>,
    lte: op('lessThanInclusive') as Compare<T>,
    isIn: (path, values) => op('in')(path, values),
    contains: (path, value) => op('contains')(path, value),
    nonEmpty: (path) => op('greaterThan')(`${path}.length`, 0),
    field: (path) => ({fact, path}),
  }
}

const CONDITIONS: ConditionsOf<never> = {
  all: (...conditions) => ({all: conditions}),
  any: (...conditions) => ({any: conditions}),
  not: (condition) => ({not: condition}),
  ...builders<never>('entity'),
  host: builders<HostView>('host'),
}

/** A line of text: `undefined` lines are left out (a list that is empty has nothing to say). */
export type Line = string | undefined

/**
 * A line with values: a list joins with ", ", null or undefined reads "none"; a list that is
 * empty makes the whole line undefined (left out).
 */
export function line(strings: TemplateStringsArray, ...values: Value[]): Line {
  let out = strings[0]
  let empty = false
  let next = strings[0]
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    // "(s)" in a message takes the count beside it: "${n} guest(s)", "network(s) ${names}".
    const count = typeof v === 'number' ? v : Array.isArray(v) ? v.length : undefined
    if (count !== undefined && WORD_BEFORE.test(next)) out = out.replace(WORD_BEFORE, (_, w: string, sp: string) => `${pluralWord(w, count)}${sp}`)
    if (Array.isArray(v)) {
      if (v.length === 0) empty = true
      out += v.join(', ')
    } else out += v === null || v === undefined ? 'none' : String(v)
    next = strings[i + 1]
    if (typeof v === 'number') next = next.replace(WORD_AFTER, (_, sp: string, w: string) => `${sp}${pluralWord(w, v)}`)
    out += next
  }
  return empty ? undefined : out
}

/** "word(s)" right after a count, and right before a list. */
const WORD_AFTER = /^(\s+)([\w-]+)\(s\)/
const WORD_BEFORE = /([\w-]+)\(s\)(\s+)$/
const pluralWord = (word: string, n: number) => (n === 1 ? word : `${word}s`)

/** `line` for titles and summaries: a line with an empty list reads as nothing (''). */
export function text(strings: TemplateStringsArray, ...values: Value[]): string {
  return line(strings, ...values) ?? ''
}

/**
 * A host's value inside a command a note gives in prose, as a fix line writes it: one shell word whatever it holds (a
 * name like `x$(reboot)` pastes as itself, not as a command); a plain name reads as itself.
 */
export const quoted = (value: string | number | null | undefined): string | undefined => (value === null || value === undefined ? undefined : shellWord(String(value)))

/**
 * `quoted` for a value a note places after `virsh WORDS…`: a name virsh would read as an option (`--x`) is given as
 * --NAME=value, as fix lines give it (virshWord).
 */
export const virshQuoted = (words: readonly string[], value: string | null | undefined): string | undefined =>
  value === null || value === undefined ? undefined : shellWord(virshWord(['virsh', ...words], value))

/** A step as the shell line a note shows (a sysctl.d line written with printf, never an echo into a redirection). */
export const stepText = (step: FixStep): string => renderStep(step)

/** Fix and check lines: steps, lists of steps (a sequence), or undefined (left out: a value it needs is unknown). */
export type Steps = FixStep | readonly FixStep[] | undefined
export type {FixStep}

type CmdValue = string | number | readonly (string | number)[] | null | undefined

/**
 * Commands as data. The template's literal text is split into words on white space, with
 * `'...'` quoting a literal word, `|` joining a pipeline and `&&` separating commands; each
 * interpolated value is (part of) one word whatever it holds, a list is one word per item (none
 * for an empty list). A null or undefined value leaves the whole line out: never a placeholder; so does a value nft
 * would not read as one word (nftWord: nft parses its joined arguments).
 */
export function cmd(strings: TemplateStringsArray, ...values: CmdValue[]): FixStep[] | undefined {
  const commands: string[][][] = [[[]]] // sequence of pipelines of argvs
  let word: string | null = null
  /** Whether the word being built holds a value; and whether a value made a word nft would split. */
  let valued = false
  let splitByNft = false
  const argv = () => commands.at(-1)!.at(-1)!
  const forNft = (w: string) => {
    if (argv()[0] === 'nft' && !nftWord(w)) splitByNft = true
  }
  const end = () => {
    if (word !== null && valued) forNft(word)
    if (word !== null) argv().push(word)
    word = null
    valued = false
  }
  const literal = (text: string) => {
    for (const token of text.match(/'[^']*'|&&|\||\s+|[^\s'|&]+|&/g) ?? []) {
      if (/^\s+$/.test(token)) end()
      else if (token === '|') (end(), commands.at(-1)!.push([]))
      else if (token === '&&') (end(), commands.push([[]]))
      else word = (word ?? '') + (token.startsWith("'") ? token.slice(1, -1) : token)
    }
  }
  literal(strings[0])
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v === null || v === undefined) return undefined
    if (Array.isArray(v)) {
      end()
      for (const item of v) (forNft(String(item)), argv().push(String(item)))
    } else (word = word === null ? virshWord(argv(), String(v)) : word + String(v)), (valued = true)
    literal(strings[i + 1])
  }
  end()
  if (splitByNft) return undefined
  return commands.map((pipeline) => {
    if (pipeline.some((a) => a.length === 0)) throw new TypeError(`an empty command in ${strings.join('…')}`)
    return pipeline.length === 1 ? {argv: pipeline[0]} : {pipeline}
  })
}

/** A command that cuts off running guests until the steps after it bring them back: they are named where it is printed. */
export function disrupting(guests: readonly string[], steps: FixStep[] | undefined): FixStep[] | undefined {
  if (!steps) return undefined
  return steps.map((s) => ('argv' in s && guests.length > 0 ? {...s, disrupts: [...guests]} : s))
}

/** Lines appended to a file (a sysctl.d or modules-load.d drop-in), as data: no echo, no redirection to quote. */
export const appendLines = (path: string, lines: readonly string[]): FixStep => ({write: {path, content: lines.map((l) => `${l}\n`).join(''), append: true}})

/** A string in nft's syntax: bare when it is an identifier nft reads as one, else double-quoted (nft has no escape for `"`: undefined for such a name, so the line is left out). */
export function nftString(name: string): string | undefined {
  if (/^[A-Za-z_][A-Za-z0-9_./-]*$/.test(name)) return name
  if (/["\n\\]/.test(name)) return undefined
  return `"${name}"`
}

/** Who judges a kind of datapath element, and how it is undone. */
export interface Ownership<V> {
  kind: Element['kind']
  /** Which elements of the kind (the rest belong to another rule). */
  where?: (element: Element) => boolean
  /**
   * For a rule on another kind of entity: its finding on `own` stands for the element (the
   * element then makes no finding of its own). Unset for the rules that judge elements themselves.
   */
  covers?: (own: V, element: Element) => boolean
  /** The commands that undo the element on HOST, filled in (the trace's undo, the general finding's fix). */
  undo: (element: Element, host?: HostView) => FixStep[]
  /** The command that lists where it is (a netfilter element's chain), for the trace. */
  lists?: (element: Element) => FixStep[] | undefined
}

export interface Explains<T> {
  rule: string
  via: keyof EntityContext
  /** Only the findings whose entity this holds for (a host-wide cause of some elements' findings), given the cause's. */
  onlyWhere?: (child: EntityView, cause: EntityView) => boolean
  /** What `onlyWhere` reads, for people (`kvmdoctor rules show`). */
  onlyWhereText?: string
  /** Unused: keeps T in the type (the explaining view). */
  _view?: T
}

/** What a rule may ask of the others. */
export interface RuleContext {
  /** The commands that undo a datapath element, from the rule that owns its kind. */
  undo(element: Element): FixStep[]
}

export interface RuleSpec<V, D extends object = object> {
  id: string
  /** Ids it was known by: ignore files, SARIF fingerprints and metrics keep honouring them. */
  aliases?: string[]
  kind: ScopeOf<V> | ScopeOf<V>[]
  severity: Severity
  /** A higher severity where the fault does more harm. */
  escalate?: {to: Severity; when: (e: V & D, host: HostView) => boolean}
  /** Probes that must have read their sources for the rule to be checked at all. */
  needs: Probe[]
  /** Groups of probes of which at least one must have succeeded (iptables or nftables). */
  needsAny?: Probe[][]
  /** Attributes that must be known (not null) for an entity to be checked. */
  known?: (keyof V & string)[]
  /** Attributes that must be known for this entity only (the verdict needs them in some cases: a fault found without them stands). */
  knownWhere?: (e: V) => (keyof V & string)[]
  /** Where the rule means something (elsewhere it is checked and passes, and JUnit does not list it). */
  appliesTo?: (e: V, host: HostView) => boolean
  /** Only where the user asked for it (the expectations file): elsewhere it is neither run nor listed. */
  askedFor?: (e: V) => boolean
  /** The rule's own judgements of the view's facts (thresholds, comparisons), for its conditions and texts. */
  derive?: (e: V, host: HostView) => D
  /** json-rules-engine conditions, built over typed paths: they stay data (`kvmdoctor rules show` prints them). */
  conditions: (c: ConditionsOf<V & D>) => TopLevelCondition
  title: (e: V & D, host: HostView) => string
  summary: (e: V & D, host: HostView) => string
  evidence: (e: V & D, host: HostView) => Line[]
  /**
   * Commands only, as data, every value filled in, prerequisites first: a person pastes them as
   * printed and `kvmdoctor fix --yes` runs them. They follow the safety contract (README).
   */
  fix: (e: V & D, host: HostView, rules: RuleContext) => Steps[]
  /** Commands that look without changing anything (a listing, a lease table): printed as `check:`, never run by `fix --yes`. */
  check?: (e: V & D, host: HostView) => Steps[]
  /** Prose that goes with the fix (when it applies, how to persist it). */
  note?: (e: V & D, host: HostView) => Line[]
  /** What it found, as a list other outputs show (the rogue servers a guest heard): `kvmdoctor ip` reads it. */
  found?: (e: V & D) => string[]
  /** Findings this one is the root cause of, when they share the named context key. */
  explains?: Explains<V>[]
  /** The datapath elements this rule judges (its finding stands for them) and undoes. */
  owns?: Ownership<V & D>[]
  /** Checked on the elements no other rule judged: the general datapath rules. */
  general?: boolean
  /** The file on the host a person edits to fix it (relative to /), where there is one. */
  fileToChange?: (e: V) => string | undefined
}

/** A rule as the engine runs it: conditions as data, texts as functions. */
export interface Rule {
  id: string
  aliases: string[]
  /** The id SARIF fingerprints and metrics use: the first alias (the catalogue's id) when there is one. */
  stableId: string
  scopes: Scope[]
  /** The entity kinds its findings are on. */
  kinds: EntityKind[]
  severity: Severity
  escalate?: {to: Severity; when: (e: never, host: HostView) => boolean}
  needs: string[]
  needsAny: string[][]
  known: string[]
  knownWhere?: (e: never) => string[]
  appliesTo?: (e: never, host: HostView) => boolean
  askedFor?: (e: never) => boolean
  derive?: (e: never, host: HostView) => object
  conditions: TopLevelCondition
  title: (e: never, host: HostView) => string
  summary: (e: never, host: HostView) => string
  evidence: (e: never, host: HostView) => Line[]
  fix: (e: never, host: HostView, rules: RuleContext) => Steps[]
  check?: (e: never, host: HostView) => Steps[]
  note?: (e: never, host: HostView) => Line[]
  found?: (e: never) => string[]
  explains: Explains<unknown>[]
  owns: Ownership<never>[]
  general: boolean
  fileToChange?: (e: never) => string | undefined
}

export function defineRule<V extends EntityView, D extends object = object>(spec: RuleSpec<V, D>): Rule {
  const scopes = (Array.isArray(spec.kind) ? spec.kind : [spec.kind]) as Scope[]
  const aliases = spec.aliases ?? []
  return {
    ...(spec as unknown as Rule),
    aliases,
    stableId: aliases[0] ?? spec.id,
    scopes,
    kinds: [...new Set(scopes.map((s) => SCOPE_KIND[s]))],
    needs: spec.needs.map((p) => p.id),
    needsAny: (spec.needsAny ?? []).map((g) => g.map((p) => p.id)),
    known: spec.known ?? [],
    conditions: spec.conditions(CONDITIONS as unknown as ConditionsOf<V & D>),
    explains: (spec.explains ?? []) as Explains<unknown>[],
    owns: (spec.owns ?? []) as unknown as Ownership<never>[],
    general: spec.general ?? false,
  }
}

/** An element's owner entry among the rules: the one whose kind and `where` match. */
export function ownershipOf(rules: Rule[], element: Element): {rule: Rule; ownership: Ownership<never>}[] {
  const found: {rule: Rule; ownership: Ownership<never>}[] = []
  for (const rule of rules) for (const o of rule.owns) if (o.kind === element.kind && (o.where?.(element) ?? true)) found.push({rule, ownership: o})
  return found
}

export type {ElementView}

/** A network as a restart sees it: its bridge and the running guests' taps on it. */
interface RestartableNetwork {
  name: string
  bridge: string | null
  runningTaps: {domain: string; tap: string}[]
}

/**
 * The running guests' taps put back on the network's bridge. Destroying a network deletes its
 * bridge and leaves the taps of running guests on none; starting it again does not re-plug them.
 */
export const reattachTaps = (n: RestartableNetwork): Steps[] => (n.bridge ? n.runningTaps.map((t) => cmd`ip link set ${t.tap} master ${n.bridge} up`) : [])

/** Destroy and start a network: labelled with the running guests it cuts off, followed by the steps that re-attach them. */
export function restartNetwork(n: RestartableNetwork): Steps[] {
  const guests = [...new Set(n.runningTaps.map((t) => t.domain))]
  return [disrupting(guests, cmd`virsh net-destroy ${n.name}`), cmd`virsh net-start ${n.name}`, ...reattachTaps(n)]
}

/**
 * A network's dnsmasq started again. Under systemd the network daemon's restart respawns it (libvirt starts a
 * missing dnsmasq of an active network when it starts), no guest cut off. Without it, the network is restarted and
 * its running guests' taps re-plugged (labelled): a dnsmasq started by hand with libvirt's command line lacks the
 * environment libvirt's leases helper needs and exits at once (the lab: "interface not set", lease-init exit 1).
 */
export function respawnDnsmasq(n: RestartableNetwork, host: HostView): Steps[] {
  if (host.systemd === true) return [restartNetworkDaemon(host)]
  return restartNetwork(n)
}

/**
 * The daemon that re-applies every active network's firewall rules and respawns their dnsmasq, restarted: libvirtd, or
 * virtnetworkd where the modular daemons run (there libvirtd.service is not installed, or starting it would run a second
 * daemon beside them). Running guests keep their connections.
 */
export const restartNetworkDaemon = (host: HostView): FixStep[] | undefined => cmd`systemctl restart ${host.libvirtNetworkDaemon}`

/** Where sysctl fixes persist: a drop-in of kvmdoctor's own, read at boot by systemd-sysctl. */
export const SYSCTL_DROP_IN = '/etc/sysctl.d/90-kvmdoctor.conf'
