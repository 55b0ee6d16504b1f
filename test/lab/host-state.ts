/**
 * The host's firewall and network settings, saved before the lab changes anything and put
 * back exactly afterwards: iptables (nft and legacy, IPv4 and IPv6), every nftables table,
 * ipsets, every writable net.* sysctl, the Debian alternatives choosing iptables' backend;
 * libvirt network definitions, policy routing rules and routes are compared too (cleanLab and
 * the scenarios' resets put those back).
 *
 * Restoring touches only what differs, so a host that is not pristine (Docker's chains,
 * firewalld's or the distribution's own nftables tables) keeps its own rules untouched.
 * Packet and byte counters are never compared.
 */
import {createHash} from 'node:crypto'
import {existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {BRIDGE, NETWORK, cleanLab, endDaemonsNotRunBefore, ensureHost, labDaemons, sh, stopOvs} from './lab.js'
import {type XfrmPolicy, parseXfrmPolicies} from '../../probes/xfrm.js'

export interface HostState {
  /** A saved state only applies to the boot it was taken in. */
  bootId: string
  takenAt: string
  /** Tool → its save output ('' when the tool is missing); iptables-save, ip6tables-save, iptables-legacy-save, ip6tables-legacy-save. */
  iptables: Record<string, string>
  /** `nft -j list ruleset` */
  nftJson: string
  /** 'family name' → `nft -s list table family name` (to recreate native tables). */
  nftTables: Record<string, string>
  /** `ipset save` ('' without ipset). */
  ipsets: string
  /** Path under /proc/sys (net/...) → value, for every readable, writable key. */
  sysctls: Record<string, string>
  /** libvirt network name → `virsh net-dumpxml --inactive`. */
  libvirtNetworks: Record<string, string>
  /** `ip -4 rule` and `ip -6 rule`. */
  ipRules: string
  /** IPsec policies, one line each (`ip xfrm policy` texts as one deletes them). Absent in states saved before the xfrm scenarios. */
  xfrm?: string
  /** `ip -4 route show table all`, without the local table and addresses the uplink learnt (proto dhcp/ra). */
  routes: string
  /**
   * Alternative group (iptables, ip6tables ...) → "auto|manual PATH" (update-alternatives --query):
   * which backend the plain `iptables` binary is. Absent in states saved before the lab switched them.
   */
  alternatives?: Record<string, string>
  /**
   * Open vSwitch's footprint (see ovsFootprint): whether it answers, its bridges and their ports when it does, and the
   * files of its database, configuration, log and run directories. Absent in states saved before the OVS scenarios.
   */
  ovs?: string
}

/** Where Debian's Open vSwitch keeps its database (and the link to it), configuration, logs, pid files and sockets. */
export const OVS_DIRS = ['/etc/openvswitch', '/var/lib/openvswitch', '/var/log/openvswitch', '/var/run/openvswitch']

/**
 * Open vSwitch as lines: "ovs: answers|silent", each bridge's ports when it answers, and every entry of its
 * directories (a file by its sha256, a link by its target, a socket by its name; a missing directory as such).
 * A running OVS's own database and logs change by themselves: their contents are compared only while it is silent.
 */
export async function ovsFootprint(): Promise<string> {
  const answers = (await sh(['ovs-vsctl', '--timeout=3', 'show'], {reject: false})).exitCode === 0
  const lines = [`ovs: ${answers ? 'answers' : 'silent'}`]
  if (answers) {
    for (const br of (await sh(['ovs-vsctl', '--timeout=5', 'list-br'])).stdout.split('\n').filter(Boolean)) {
      lines.push(`bridge ${br}: ${(await sh(['ovs-vsctl', '--timeout=5', 'list-ports', br])).stdout.split('\n').filter(Boolean).sort().join(' ')}`)
    }
  }
  for (const dir of OVS_DIRS) {
    if (!existsSync(dir)) {
      lines.push(`${dir}: none`)
      continue
    }
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      const st = lstatSync(path)
      if (st.isSymbolicLink()) lines.push(`${path} -> ${readlinkSync(path)}`)
      else if (st.isFile() && !answers) lines.push(`${path} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`)
      else lines.push(`${path} (${st.isFile() ? 'file' : st.isSocket() ? 'socket' : st.isDirectory() ? 'directory' : 'other'})`)
    }
  }
  return lines.join('\n')
}

const SAVE_TOOLS: {save: string; restore: string}[] = [
  {save: 'iptables-save', restore: 'iptables-restore'},
  {save: 'ip6tables-save', restore: 'ip6tables-restore'},
  {save: 'iptables-legacy-save', restore: 'iptables-legacy-restore'},
  {save: 'ip6tables-legacy-save', restore: 'ip6tables-legacy-restore'},
]

/** Keys that are writable but change by themselves (statistics, counters) or are triggers, not settings. */
const VOLATILE_SYSCTL = [/^net\/netfilter\/nf_conntrack_count$/, /\/flush$/, /^net\/ipv6\/conf\/[^/]+\/stable_secret$/, /^net\/core\/netdev_rss_key$/]

/** The alternative groups that pick iptables' backend on Debian (arptables/ebtables only matter to nwfilter, kept all the same). */
export const IPTABLES_ALTERNATIVES = ['iptables', 'ip6tables', 'arptables', 'ebtables']

const have = async (bin: string) => (await sh(['which', bin], {reject: false})).exitCode === 0

async function bootId(): Promise<string> {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
}

function readSysctls(): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (rel: string) => {
    const abs = join('/proc/sys', rel)
    for (const name of readdirSync(abs)) {
      const relPath = `${rel}/${name}`
      let st
      try {
        st = statSync(join(abs, name))
      } catch {
        continue
      }
      if (st.isDirectory()) {
        walk(relPath)
        continue
      }
      if ((st.mode & 0o200) === 0 || (st.mode & 0o400) === 0) continue
      if (VOLATILE_SYSCTL.some((re) => re.test(relPath))) continue
      try {
        out[relPath] = readFileSync(join(abs, name), 'utf8').trim()
      } catch {
        // unreadable (EIO, EINVAL, EPERM): not a setting we can read back
      }
    }
  }
  walk('net')
  return out
}

/** "auto /usr/sbin/iptables-nft" or "manual /usr/sbin/iptables-legacy" per group; groups this host does not have are left out. */
export async function readAlternatives(): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  if (!(await have('update-alternatives'))) return out
  for (const name of IPTABLES_ALTERNATIVES) {
    const q = await sh(['update-alternatives', '--query', name], {reject: false})
    if (q.exitCode !== 0) continue
    const status = /^Status: (\S+)$/m.exec(q.stdout)?.[1]
    const value = /^Value: (\S+)$/m.exec(q.stdout)?.[1]
    if (status && value) out[name] = `${status} ${value}`
  }
  return out
}

/** Puts the alternative groups back as `saved` has them: auto mode as auto (not pinned to today's best), manual as that path. */
export async function restoreAlternatives(saved: Record<string, string>): Promise<string[]> {
  const done: string[] = []
  const now = await readAlternatives()
  for (const [name, want] of Object.entries(saved)) {
    if (now[name] === want) continue
    const [status, path] = want.split(' ')
    if (status === 'auto') await sh(['update-alternatives', '--quiet', '--auto', name])
    else await sh(['update-alternatives', '--quiet', '--set', name, path])
    done.push(`update-alternatives ${name}: ${want}`)
  }
  return done
}

export async function captureHostState(): Promise<HostState> {
  const alternatives = await readAlternatives()
  const iptables: Record<string, string> = {}
  for (const t of SAVE_TOOLS) iptables[t.save] = (await have(t.save)) ? (await sh([t.save], {reject: false})).stdout : ''
  const nftJson = (await sh(['nft', '-j', 'list', 'ruleset'])).stdout
  const nftTables: Record<string, string> = {}
  for (const t of nftTableNames(nftJson)) nftTables[t] = (await sh(['nft', '-s', 'list', 'table', ...t.split(' ')])).stdout
  const ipsets = (await have('ipset')) ? (await sh(['ipset', 'save'], {reject: false})).stdout : ''
  const libvirtNetworks: Record<string, string> = {}
  if ((await sh(['virsh', 'version'], {reject: false})).exitCode === 0) {
    const names = (await sh(['virsh', 'net-list', '--all', '--name'])).stdout.split('\n').map((s) => s.trim()).filter(Boolean)
    for (const n of names) libvirtNetworks[n] = (await sh(['virsh', 'net-dumpxml', '--inactive', n], {reject: false})).stdout
  }
  const ipRules = (await sh(['ip', '-4', 'rule'])).stdout + (await sh(['ip', '-6', 'rule'])).stdout
  const routes = (await sh(['ip', '-4', 'route', 'show', 'table', 'all'])).stdout
    .split('\n')
    .filter((l) => l && !/\btable local\b/.test(l) && !/\bproto (dhcp|ra)\b/.test(l))
    .map((l) => l.replace(/\s+linkdown\b/, '').replace(/\s+expires \S+/, '').trim())
    .join('\n')
  return {bootId: await bootId(), takenAt: new Date().toISOString(), iptables, nftJson, nftTables, ipsets, sysctls: readSysctls(), libvirtNetworks, ipRules, xfrm: await xfrmPolicies(), routes, alternatives, ovs: await ovsFootprint()}
}

async function xfrmPolicies(): Promise<string> {
  const policies = parseXfrmPolicies((await sh(['ip', 'xfrm', 'policy', 'list'])).stdout)
  return policies.map(xfrmKey).join('\n')
}

/** A policy as the saved state names it: its selector and direction, what it does and its priority. */
const xfrmKey = (p: XfrmPolicy) => `${p.text} ${p.action}${p.priority ? ` priority ${p.priority}` : ''}`

function nftTableNames(json: string): string[] {
  const items = (JSON.parse(json) as {nftables: Record<string, {family: string; name: string}>[]}).nftables
  return items.filter((i) => i.table).map((i) => `${i.table.family} ${i.table.name}`)
}

// ---------- normal forms: what "equal" means ----------
// By meaning, not by listing: a table is its chains, sets and other objects by name; a chain is its
// properties (hook, priority, policy) and its rules in order; counters, handles and positions are left out.

interface SaveTable {
  policies: Map<string, string>
  rules: Map<string, string[]>
}

/** iptables-save output as table → chains (policy) → rules, counters and comments left out. */
function parseSave(text: string): Map<string, SaveTable> {
  const tables = new Map<string, SaveTable>()
  let cur: SaveTable | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#') || line === 'COMMIT') continue
    if (line.startsWith('*')) {
      cur = {policies: new Map(), rules: new Map()}
      tables.set(line.slice(1), cur)
    } else if (line.startsWith(':') && cur) {
      const [chain, policy] = line.slice(1).split(/\s+/)
      cur.policies.set(chain, policy)
    } else if (line.startsWith('[') || line.startsWith('-A') || line.startsWith('-I')) {
      if (!cur) continue
      const rule = line.replace(/^\[\d+:\d+\]\s*/, '').replace(/\s-c \d+ \d+/, '')
      const chain = rule.split(/\s+/)[1]
      cur.rules.set(chain, [...(cur.rules.get(chain) ?? []), rule])
    }
  }
  // A table with only built-in ACCEPT chains and no rule is no table at all (legacy tables stay registered once used).
  for (const [name, t] of tables) {
    if ([...t.policies.values()].every((p) => p === 'ACCEPT') && t.rules.size === 0) tables.delete(name)
  }
  return tables
}

/** One table by meaning: part ('chain NAME', 'set NAME', 'table' ...) → its content. */
type Parts = Record<string, string>

function saveParts(text: string): Record<string, Parts> {
  const out: Record<string, Parts> = {}
  for (const [name, t] of parseSave(text)) {
    const parts: Parts = {}
    for (const chain of new Set([...t.policies.keys(), ...t.rules.keys()])) parts[`chain ${chain}`] = [`policy ${t.policies.get(chain) ?? '-'}`, ...(t.rules.get(chain) ?? [])].join('\n')
    out[name] = parts
  }
  return out
}

/** Strips handles, positions and counter values from nft JSON, recursively. */
function stripState(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripState)
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      if (k === 'handle' || k === 'index' || k === 'packets' || k === 'bytes' || k === 'used') continue
      out[k] = stripState(v)
    }
    return out
  }
  return value
}

/** The nft ruleset by meaning: 'family name' → its parts (chains with their rules in order, sets with their elements sorted). */
function nftParts(json: string): Record<string, Parts> {
  const items = (JSON.parse(json) as {nftables: Record<string, Record<string, unknown>>[]}).nftables
  const tables: Record<string, {parts: Parts; rules: Map<string, string[]>}> = {}
  for (const item of items) {
    const [kind, body] = Object.entries(item)[0]
    if (kind === 'metainfo') continue
    const key = `${body.family} ${kind === 'table' ? body.name : body.table}`
    const t = (tables[key] ??= {parts: {}, rules: new Map()})
    if (kind === 'table') t.parts.table = JSON.stringify(stripState(body))
    else if (kind === 'rule') {
      const chain = String(body.chain)
      t.rules.set(chain, [...(t.rules.get(chain) ?? []), JSON.stringify(stripState({expr: body.expr, comment: body.comment}))])
    } else {
      const stripped = stripState(body) as Record<string, unknown>
      if (Array.isArray(stripped.elem)) stripped.elem = stripped.elem.map((e) => JSON.stringify(e)).sort()
      t.parts[`${kind} ${String(body.name)}`] = JSON.stringify(stripped)
    }
  }
  const out: Record<string, Parts> = {}
  for (const [key, t] of Object.entries(tables)) {
    for (const [chain, rules] of t.rules) t.parts[`chain ${chain}`] = [t.parts[`chain ${chain}`] ?? '(not listed)', ...rules].join('\n')
    out[key] = t.parts
  }
  return out
}

/** A table's parts as one text (equal texts: equal tables). */
const tableText = (parts: Parts) =>
  Object.keys(parts)
    .sort()
    .map((k) => `${k}: ${parts[k]}`)
    .join('\n')

function normalIpsets(text: string): Record<string, string> {
  const out: Record<string, string[]> = {}
  for (const line of text.split('\n').filter(Boolean)) {
    const [verb, name] = line.split(/\s+/)
    ;(out[name] ??= []).push(verb === 'create' ? line.replace(/\s+initval 0x[0-9a-f]+/, '') : line)
  }
  return Object.fromEntries(Object.entries(out).map(([n, lines]) => [n, [lines[0], ...lines.slice(1).sort()].join('\n')]))
}

/** Lines whose order carries no meaning (the kernel's listing order of routes and rules of one priority). */
const lineSet = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .sort()
    .join('\n')

export interface NormalHostState {
  /** Save tool → table → parts. */
  iptables: Record<string, Record<string, Parts>>
  /** 'family name' → parts. */
  nft: Record<string, Parts>
  ipsets: Record<string, string>
  sysctls: Record<string, string>
  libvirtNetworks: Record<string, string>
  ipRules: string
  routes: string
  alternatives: Record<string, string>
}

export function normalize(s: HostState): NormalHostState {
  return {
    iptables: Object.fromEntries(Object.entries(s.iptables).map(([tool, text]) => [tool, saveParts(text)])),
    nft: nftParts(s.nftJson),
    ipsets: normalIpsets(s.ipsets),
    sysctls: s.sysctls,
    libvirtNetworks: s.libvirtNetworks,
    ipRules: lineSet(s.ipRules),
    routes: lineSet(s.routes),
    alternatives: s.alternatives ?? {},
  }
}

/** Human-readable differences between two states ([] = equal): what was added, removed or changed, by name. */
export function diffHostState(saved: HostState, now: HostState): string[] {
  const a = normalize(saved)
  const b = normalize(now)
  const out: string[] = []
  const diffMap = (what: string, x: Record<string, string>, y: Record<string, string>) => {
    for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
      if (!(k in y)) out.push(`${what} ${k}: gone (was ${short(x[k])})`)
      else if (!(k in x)) out.push(`${what} ${k}: new (${short(y[k])})`)
      else if (x[k] !== y[k]) out.push(`${what} ${k}: ${firstDifference(x[k], y[k])}`)
    }
  }
  const diffTables = (what: string, x: Record<string, Parts>, y: Record<string, Parts>) => {
    for (const t of new Set([...Object.keys(x), ...Object.keys(y)])) {
      if (!(t in y)) out.push(`${what} ${t}: gone (${Object.keys(x[t]).sort().join(', ')})`)
      else if (!(t in x)) out.push(`${what} ${t}: new (${Object.keys(y[t]).sort().join(', ')})`)
      else diffMap(`${what} ${t}`, x[t], y[t])
    }
  }
  // A state saved without alternatives says nothing about them.
  if (saved.alternatives) diffMap('alternative', a.alternatives, b.alternatives)
  for (const tool of Object.keys(a.iptables)) diffTables(tool, a.iptables[tool], b.iptables[tool] ?? {})
  diffTables('nft table', a.nft, b.nft)
  diffMap('ipset', a.ipsets, b.ipsets)
  diffMap('sysctl', a.sysctls, b.sysctls)
  diffMap('libvirt network', a.libvirtNetworks, b.libvirtNetworks)
  if (a.ipRules !== b.ipRules) out.push(`ip rules: ${setDifference(a.ipRules, b.ipRules)}`)
  if (saved.xfrm !== undefined && now.xfrm !== undefined && saved.xfrm !== now.xfrm) out.push(`ip xfrm policies: ${setDifference(lineSet(saved.xfrm), lineSet(now.xfrm))}`)
  if (a.routes !== b.routes) out.push(`routes: ${setDifference(a.routes, b.routes)}`)
  // A state saved without it says nothing about Open vSwitch.
  if (saved.ovs !== undefined && now.ovs !== undefined && saved.ovs !== now.ovs) out.push(`Open vSwitch: ${setDifference(lineSet(saved.ovs), lineSet(now.ovs))}`)
  return out
}

const short = (s: string) => (s.length > 160 ? `${s.slice(0, 160)}…` : s)

function firstDifference(x: string, y: string): string {
  const xl = x.split('\n')
  const yl = y.split('\n')
  for (let i = 0; i < Math.max(xl.length, yl.length); i++) {
    if (xl[i] !== yl[i]) return `line ${i + 1} was ${JSON.stringify(short(xl[i] ?? '(none)'))}, now ${JSON.stringify(short(yl[i] ?? '(none)'))}`
  }
  return 'differs'
}

/** Lines added and removed between two sorted line sets. */
function setDifference(x: string, y: string): string {
  const xs = new Set(x.split('\n'))
  const ys = new Set(y.split('\n'))
  const gone = [...xs].filter((l) => !ys.has(l))
  const added = [...ys].filter((l) => !xs.has(l))
  return [...gone.map((l) => `gone ${JSON.stringify(short(l))}`), ...added.map((l) => `new ${JSON.stringify(short(l))}`)].join('; ')
}

// ---------- restore ----------

const tablesText = (tables: Record<string, Parts> | undefined) =>
  Object.keys(tables ?? {})
    .sort()
    .map((t) => `*${t}\n${tableText(tables![t])}`)
    .join('\n')

async function nftScript(text: string): Promise<void> {
  const file = `/tmp/kdlab-nft-restore-${process.pid}.nft`
  writeFileSync(file, text)
  try {
    await sh(['nft', '-f', file])
  } finally {
    rmSync(file, {force: true})
  }
}

async function restoreFile(tool: string, text: string): Promise<void> {
  const file = `/tmp/kdlab-${tool}-${process.pid}.rules`
  writeFileSync(file, text)
  try {
    await sh([tool, file])
  } finally {
    rmSync(file, {force: true})
  }
}

/** Tables that iptables/ip6tables (nft backend) manage: restored with their own tools, not with nft -f. */
function iptablesManaged(s: HostState): Set<string> {
  const out = new Set<string>()
  for (const [tool, family] of [['iptables-save', 'ip'], ['ip6tables-save', 'ip6']] as const) {
    for (const m of (s.iptables[tool] ?? '').matchAll(/^\*(\S+)/gm)) out.add(`${family} ${m[1]}`)
  }
  return out
}

/** Writes sysctls in an order where the broad keys go first (ip_forward and conf/all reset every interface's forwarding). */
function sysctlOrder(path: string): number {
  if (path === 'net/ipv4/ip_forward') return 0
  if (/\/conf\/all\//.test(path)) return 1
  if (/\/conf\/default\//.test(path)) return 2
  if (/\/conf\//.test(path)) return 3
  return 4
}

function restoreSysctls(saved: Record<string, string>): string[] {
  const done: string[] = []
  for (let pass = 0; pass < 3; pass++) {
    const now = readSysctls()
    const differing = Object.keys(saved).filter((k) => k in now && now[k] !== saved[k]).sort((x, y) => sysctlOrder(x) - sysctlOrder(y))
    if (differing.length === 0) break
    for (const k of differing) {
      try {
        writeFileSync(join('/proc/sys', k), saved[k])
        done.push(`sysctl ${k.replaceAll('/', '.')}=${saved[k]}`)
      } catch (e) {
        done.push(`sysctl ${k}: cannot write (${(e as Error).message})`)
      }
    }
  }
  return done
}

/**
 * Puts the iptables alternatives, the firewall, ipsets and sysctls back as they were in `saved`, touching only what
 * differs; returns what it did. Routes, rules and libvirt networks are only compared.
 */
export async function restoreHostState(saved: HostState): Promise<string[]> {
  // First: `iptables-save` / `iptables-restore` below are whatever backend the alternatives choose.
  const done: string[] = saved.alternatives ? await restoreAlternatives(saved.alternatives) : []
  const now = await captureHostState()
  const a = normalize(saved)
  const b = normalize(now)
  const managed = new Set([...iptablesManaged(saved), ...iptablesManaged(now)])

  // 1. nftables tables that were not there (the lab's own, or iptables tables it created).
  for (const t of Object.keys(b.nft).filter((t) => !(t in a.nft))) {
    await sh(['nft', 'delete', 'table', ...t.split(' ')])
    done.push(`nft delete table ${t}`)
  }
  // 2. ipsets the saved rules may reference: create missing ones, refill changed ones.
  for (const [name, lines] of Object.entries(a.ipsets)) {
    if (b.ipsets[name] === lines) continue
    const [create, ...adds] = lines.split('\n')
    if (!(name in b.ipsets)) await restoreIpset(`${create}\n${adds.join('\n')}\n`)
    else if (b.ipsets[name].split('\n')[0] === create) {
      await sh(['ipset', 'flush', name])
      await restoreIpset(`${adds.join('\n')}\n`)
    } else done.push(`ipset ${name}: type changed, left for after the firewall`)
    done.push(`ipset ${name} restored`)
  }
  // 3. iptables / ip6tables, nft and legacy backends.
  for (const t of SAVE_TOOLS) {
    const text = saved.iptables[t.save]
    if (!text && !now.iptables[t.save]) continue
    if (tablesText(a.iptables[t.save]) === tablesText(b.iptables[t.save])) continue
    await restoreFile(t.restore, text ?? '')
    // Legacy tables the restore file does not list (created since) are emptied: they cannot be removed.
    // (nft-backend tables created since were deleted above; touching them here would create them again.)
    const extra = t.save.includes('legacy') ? Object.keys(b.iptables[t.save] ?? {}).filter((x) => !(x in (a.iptables[t.save] ?? {}))) : []
    for (const table of extra) {
      const bin = t.save.replace('-save', '')
      await sh([bin, '-t', table, '-F'])
      await sh([bin, '-t', table, '-X'])
      for (const chain of parseSave(now.iptables[t.save]).get(table)?.policies.keys() ?? []) await sh([bin, '-t', table, '-P', chain, 'ACCEPT'], {reject: false})
    }
    done.push(`${t.restore} (saved rules)`)
  }
  // 3b. iptables-restore creates every built-in chain its file lists; iptables-nft made only those it used.
  done.push(...(await dropChainsAdded(saved.nftJson, managed)))
  // 4. native nftables tables that changed or vanished: recreated from their saved text in one transaction.
  const afterIptables = nftParts((await sh(['nft', '-j', 'list', 'ruleset'])).stdout)
  for (const [t, parts] of Object.entries(a.nft)) {
    if (managed.has(t) || (afterIptables[t] && tableText(afterIptables[t]) === tableText(parts))) continue
    await nftScript(`add table ${t}\ndelete table ${t}\n${saved.nftTables[t]}`)
    done.push(`nft table ${t} recreated`)
  }
  // 5. ipsets the lab created (no rule references them any more).
  for (const name of Object.keys(b.ipsets).filter((n) => !(n in a.ipsets))) {
    await sh(['ipset', 'destroy', name])
    done.push(`ipset destroy ${name}`)
  }
  done.push(...restoreSysctls(saved.sysctls))
  // 6. IPsec policies the lab added (those it found are never touched).
  if (saved.xfrm !== undefined) {
    const had = new Set(saved.xfrm.split('\n'))
    for (const p of parseXfrmPolicies((await sh(['ip', 'xfrm', 'policy', 'list'])).stdout)) {
      if (had.has(xfrmKey(p))) continue
      await sh(['ip', 'xfrm', 'policy', 'delete', ...p.text.split(' ')])
      done.push(`ip xfrm policy delete ${p.text}`)
    }
  }
  if (saved.ovs !== undefined) done.push(...(await restoreOvs(saved.ovs)))
  return done
}

/**
 * Open vSwitch as `saved` found it: the lab's bridges deleted and the OVS the lab started stopped (stopOvs), then the
 * entries of OVS's directories that were not there (a run directory, pid files and sockets it left) removed. A file
 * the lab changed is not rewritten: the lab writes none (its OVS keeps its database and logs in the lab's cache).
 */
async function restoreOvs(saved: string): Promise<string[]> {
  const now = await ovsFootprint()
  if (now === saved) return []
  const done: string[] = []
  await stopOvs()
  done.push('Open vSwitch: kdlab bridges deleted, the lab\'s OVS stopped')
  const had = new Set(saved.split('\n').map((l) => l.split(/ (?:->|\(|[0-9a-f]{64}$)/)[0].trim()))
  for (const dir of OVS_DIRS) {
    if (!existsSync(dir)) continue
    if (had.has(`${dir}: none`)) {
      rmSync(dir, {recursive: true, force: true})
      done.push(`removed ${dir}`)
      continue
    }
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      if (had.has(path)) continue
      rmSync(path, {recursive: true, force: true})
      done.push(`removed ${path}`)
    }
  }
  return done
}

/**
 * Empty chains of the iptables-managed tables (`family name`) that `savedNftJson` does not have: what an
 * iptables-nft-restore of a saved listing adds (it creates each built-in chain the file declares, while
 * iptables-nft itself makes one only when a rule or policy needs it). Deleted, so nft's listing is as it was.
 */
export async function dropChainsAdded(savedNftJson: string, tables: Set<string>): Promise<string[]> {
  const done: string[] = []
  const chainsOf = (json: string) => {
    const items = (JSON.parse(json) as {nftables: Record<string, {family: string; table: string; name: string; chain?: string}>[]}).nftables
    const chains = new Set(items.filter((i) => i.chain).map((i) => `${i.chain.family} ${i.chain.table} ${i.chain.name}`))
    const used = new Set(items.filter((i) => i.rule).map((i) => `${i.rule.family} ${i.rule.table} ${i.rule.chain}`))
    return {chains, used}
  }
  const before = chainsOf(savedNftJson).chains
  const now = chainsOf((await sh(['nft', '-j', 'list', 'ruleset'])).stdout)
  for (const chain of now.chains) {
    const [family, table, name] = chain.split(' ')
    if (before.has(chain) || now.used.has(chain) || !tables.has(`${family} ${table}`)) continue
    // Only a table that was there: one created since is the caller's to delete whole.
    if (![...before].some((c) => c.startsWith(`${family} ${table} `))) continue
    await sh(['nft', 'delete', 'chain', family, table, name])
    done.push(`nft delete chain ${chain} (added by iptables-restore)`)
  }
  return done
}

async function restoreIpset(text: string): Promise<void> {
  const file = `/tmp/kdlab-ipset-${process.pid}`
  writeFileSync(file, text)
  try {
    await sh(['ipset', 'restore', '-exist', '-file', file])
  } finally {
    rmSync(file, {force: true})
  }
}

// ---------- the lab's saved copy ----------

/**
 * Saves the host's state into `file` for the lab run. A file left by an interrupted run of
 * this same boot is the truer baseline: it is restored first, then taken again.
 */
export async function saveHostState(file: string): Promise<{state: HostState; recovered: string[]}> {
  let recovered: string[] = []
  if (existsSync(file)) {
    const left = JSON.parse(readFileSync(file, 'utf8')) as HostState
    if (left.bootId === (await bootId())) recovered = await restoreHostState(left)
    rmSync(file, {force: true})
  }
  const state = await captureHostState()
  // The lab's cache directory is made by the guest build, which comes after this on a machine's first lab run.
  mkdirSync(dirname(file), {recursive: true})
  writeFileSync(file, JSON.stringify(state))
  return {state, recovered}
}

/** Restores from `file` and removes it (the run is over). */
export async function restoreSavedHostState(file: string): Promise<{saved: HostState; actions: string[]} | undefined> {
  if (!existsSync(file)) return undefined
  const saved = JSON.parse(readFileSync(file, 'utf8')) as HostState
  const actions = await restoreHostState(saved)
  rmSync(file, {force: true})
  return {saved, actions}
}

// ---------- the host as the lab found it ----------

/** The host before the lab started anything: its lab daemons, whether the default network's bridge was up, its state (saved in a file too). */
export interface LabBaseline {
  daemons: Map<string, string>
  bridgeUp: boolean
  state: HostState
  /** What an interrupted run of this boot left, restored before the state was taken. */
  recovered: string[]
}

/**
 * Takes the baseline before the lab starts anything (libvirtd brings the default network up, and with it ip_forward
 * and its firewall rules), then brings the lab host up (ensureHost) without what an earlier run left.
 */
export async function startLabHost(file: string): Promise<LabBaseline> {
  const daemons = await labDaemons()
  // A libvirtd that runs already may hold an interrupted run's guests and networks: removed first, not taken as the host's.
  if ([...daemons.values()].includes('libvirtd')) await cleanLab()
  const bridgeUp = existsSync(`/sys/class/net/${BRIDGE}`)
  const {state, recovered} = await saveHostState(file)
  await ensureHost()
  await cleanLab()
  return {daemons, bridgeUp, state, recovered}
}

/**
 * Puts the host back as startLabHost found it: the lab's guests, networks and namespaces removed, the default network
 * taken down and the daemons ended where the lab brought them up (the network first: an ended libvirtd leaves its
 * bridge), then the firewall, ipsets and sysctls restored from FILE. Returns what it did.
 */
export async function putHostBack(baseline: LabBaseline, file: string): Promise<string[]> {
  const done: string[] = []
  try {
    await cleanLab()
  } finally {
    if (!baseline.bridgeUp && (await sh(['virsh', 'net-destroy', NETWORK], {reject: false})).exitCode === 0) done.push(`virsh net-destroy ${NETWORK}`)
    done.push(...(await endDaemonsNotRunBefore(baseline.daemons)).map((d) => `ended ${d}`))
    done.push(...((await restoreSavedHostState(file))?.actions ?? []))
  }
  return done
}
