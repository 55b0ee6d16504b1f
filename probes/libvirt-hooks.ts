/**
 * libvirt's hook scripts, read as text and never run: libvirtd runs /etc/libvirt/hooks/qemu
 * (and network, and every file of qemu.d/ and network.d/) on guest and network events, and
 * port forwards are most often made there. What a script adds to the packet filter is read
 * statically: `iptables ... -I/-A CHAIN ...` commands with the values of the script's own
 * plain assignments filled in, under the guest (or network) its `$1` tests name; and the JSON
 * configuration of the widely forked libvirt-hook-qemu (hooks.json / qemu.json: guest →
 * private_ip, port_map). A command it cannot fill in or does not read is listed as such.
 */
import {type AcceptIntent, type ForwardIntent, acceptOf, constrain, forwardsOf, type Constraints} from './netfilter/forwards.js'
import {parseIptablesSaveIR} from './netfilter/iptables-save.js'
import {type Probe, ProbeUnavailable, isObj, unavailableIfNotRecorded} from './types.js'

export const HOOKS_DIR = '/etc/libvirt/hooks'

export interface HookForward extends ForwardIntent {
  /** The guest (qemu hook) or network (network hook) the command runs for; absent when the script names none. */
  object?: string
  /** Where it is written: "line 12" of a script, or the configuration's entry. */
  at: string
}

export interface HookAccept extends AcceptIntent {
  object?: string
  at: string
}

export interface HookScript {
  path: string
  /** qemu: guest events; network: network events. */
  kind: 'qemu' | 'network'
  forwards: HookForward[]
  accepts: HookAccept[]
  /** Commands that change the packet filter which kvmdoctor does not read (nft, firewall-cmd, a value it cannot fill in). */
  unread: {at: string; command: string}[]
}

export interface HookFacts {
  scripts: HookScript[]
}

/** Splits a shell line into words: quotes removed, `\` escapes kept literal; undefined for what a word splitter cannot tell (`$(`, backticks). */
function words(line: string): string[] | undefined {
  if (/\$\(|`/.test(line)) return undefined
  const out: string[] = []
  let cur = ''
  let quote: '"' | "'" | undefined
  let started = false
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]
    if (quote) {
      if (ch === quote) quote = undefined
      else cur += ch
      continue
    }
    if (ch === '"' || ch === "'") {
      quote = ch
      started = true
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i]
      started = true
    } else if (/\s/.test(ch)) {
      if (started) out.push(cur)
      cur = ''
      started = false
    } else if (ch === ';' || ch === '&' || ch === '|') {
      if (started) out.push(cur)
      out.push(ch)
      cur = ''
      started = false
    } else {
      cur += ch
      started = true
    }
  }
  if (quote) return undefined
  if (started) out.push(cur)
  return out
}

/** $VAR and ${VAR} from the script's plain assignments; undefined when one cannot be filled in. */
function expand(text: string, vars: Map<string, string>): string | undefined {
  let unknown = false
  const out = text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, a: string | undefined, b: string | undefined) => {
    const v = vars.get((a ?? b)!)
    if (v === undefined) unknown = true
    return v ?? ''
  })
  return unknown ? undefined : out
}

const IPTABLES = /(^|\/)ip(6?)tables(-nft|-legacy)?$/
const CHANGERS = /(^|\/)(nft|firewall-cmd|ufw|ebtables|ip6?tables-restore)$/
/** The object a test on $1 names: [ "$1" = "web01" ], [[ $1 == web01 ]], test "${1}" = web01. */
const OBJECT_TEST = /(?:\[\[?|test)\s+"?\$\{?1\}?"?\s*==?\s*("([^"]*)"|'([^']*)'|([^\s\]]+))/

/**
 * Reads a hook shell script: the forwards and accepts its iptables commands add (-I/-A), with the values of
 * its plain assignments, under the guest or network its `$1` tests name.
 */
export function readHookScript(text: string, path: string, kind: HookScript['kind']): HookScript {
  const script: HookScript = {path, kind, forwards: [], accepts: [], unread: []}
  const vars = new Map<string, string>()
  // The object named by each open `if`/`case` arm; the innermost one that names one applies.
  const objects: (string | undefined)[] = []
  let inCaseOnName = false
  const lines = text.replace(/\\\n/g, ' ').split('\n')
  lines.forEach((raw, n) => {
    const at = `line ${n + 1}`
    const line = raw.replace(/(^|\s)#.*$/, '').trim()
    if (line === '') return
    const assign = /^(?:export\s+|local\s+|readonly\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line)
    if (assign) {
      const w = words(assign[2])
      const value = w && w.length <= 1 ? expand(w[0] ?? '', vars) : undefined
      if (value === undefined) vars.delete(assign[1])
      else vars.set(assign[1], value)
      return
    }
    const expanded = expand(line, vars) ?? line
    const test = OBJECT_TEST.exec(expanded)
    if (/^(if|elif)\b/.test(line)) {
      const name = test ? (test[2] ?? test[3] ?? test[4]) : undefined
      if (line.startsWith('elif')) objects.pop()
      objects.push(name)
    } else if (/^else\b/.test(line)) {
      objects.pop()
      objects.push(undefined)
    } else if (/^fi\b/.test(line)) objects.pop()
    else if (/^case\s+"?\$\{?1\}?"?\s+in\b/.test(line)) {
      inCaseOnName = true
      objects.push(undefined)
    } else if (/^esac\b/.test(line)) {
      if (inCaseOnName) objects.pop()
      inCaseOnName = false
    } else if (inCaseOnName && /^[^()\s]+\)/.test(line)) {
      objects.pop()
      objects.push(/^"?([^"()\s]+)"?\)/.exec(expanded)?.[1])
    }
    // A test on $1 outside an `if` (`[ "$1" = web01 ] && iptables ...`) names the object of its own line.
    const inline = test && !/^(if|elif)\b/.test(line) ? (test[2] ?? test[3] ?? test[4]) : undefined
    const object = inline ?? [...objects].reverse().find((o) => o !== undefined && o !== '*')
    // Every command of the line (after `then`, `;`, `&&`): the packet-filter ones are read.
    const w = words(line)
    if (!w) {
      if (/iptables|nft|firewall-cmd/.test(line)) script.unread.push({at, command: line})
      return
    }
    const commands: string[][] = [[]]
    for (const word of w) {
      if (word === ';' || word === '&' || word === '|') commands.push([])
      else commands[commands.length - 1].push(word)
    }
    for (let cmd of commands) {
      while (cmd.length > 0 && /^(then|do|else|elif|if|sudo|exec|command|!)$/.test(cmd[0])) cmd = cmd.slice(1)
      if (cmd.length === 0) continue
      const tool = expand(cmd[0], vars) ?? cmd[0]
      if (CHANGERS.test(tool) && !cmd.slice(1).some((a) => /^(list|-L|-S|--list|--list-rules|status|--state|--query|-C|--check|-n)$/.test(a) || /^--(get|list|query)-/.test(a))) {
        script.unread.push({at, command: cmd.join(' ')})
        continue
      }
      if (!IPTABLES.test(tool)) continue
      const filled = cmd.slice(1).map((word) => expand(word, vars))
      if (filled.some((x) => x === undefined)) {
        script.unread.push({at, command: cmd.join(' ')})
        continue
      }
      const read = iptablesCommand(filled as string[])
      if (read === 'unread') script.unread.push({at, command: cmd.join(' ')})
      else if (read) {
        script.forwards.push(...read.forwards.map((f) => ({...f, ...(object ? {object} : {}), at})))
        if (read.accept) script.accepts.push({...read.accept, ...(object ? {object} : {}), at})
      }
    }
    // `if ...; then ...; fi` on one line closes what it opened.
    if (/^if\b/.test(line) && /(^|[;\s])fi$/.test(line)) objects.pop()
  })
  return script
}

/** One iptables command: what an -I/-A adds (a forward, an accept), nothing for others, 'unread' when it does not parse. */
function iptablesCommand(args: string[]): {forwards: ForwardIntent[]; accept?: AcceptIntent} | 'unread' | undefined {
  let table = 'filter'
  let chain: string | undefined
  const rest: string[] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if ((a === '-t' || a === '--table') && i + 1 < args.length) table = args[++i]
    else if (a === '-I' || a === '--insert' || a === '-A' || a === '--append') {
      chain = args[++i]
      // -I CHAIN N: the position is not part of the rule.
      if (a.startsWith('-I') || a === '--insert') if (/^\d+$/.test(args[i + 1] ?? '')) i++
    } else if (/^(-[DNXFPRZLSCE]|--(delete|new-chain|delete-chain|flush|policy|replace|zero|list|list-rules|check|rename-chain))$/.test(a)) return undefined
    else if (a === '-w' || a === '--wait') {
      if (/^\d+$/.test(args[i + 1] ?? '')) i++
    } else rest.push(a)
  }
  if (!chain) return undefined
  // iptables takes unique prefixes of an option; iptables-save prints them whole.
  const dnat = rest.includes('DNAT')
  const normalised = rest.map((a) => (a === '--to' || a === '--to-dest' || a === '--to-d' ? (dnat ? '--to-destination' : '--to-source') : a))
  let tables
  try {
    tables = parseIptablesSaveIR(`*${table}\n:${chain} - [0:0]\n-A ${chain} ${normalised.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ')}\nCOMMIT\n`, {backend: 'iptables-nft', family: 'ip'})
  } catch {
    return 'unread'
  }
  const rule = tables[0]?.chains[chain]?.rules[0]
  if (!rule) return 'unread'
  let c: Constraints = {}
  const forwards: ForwardIntent[] = []
  for (const e of rule.exprs) {
    if (e.kind === 'cmp') c = constrain(c, e)
    else if (e.kind === 'nat') forwards.push(...forwardsOf(c, e, {}))
  }
  const accept = table === 'filter' ? acceptOf(rule.exprs) : undefined
  return {forwards, ...(accept ? {accept} : {})}
}

/**
 * libvirt-hook-qemu's configuration (hooks.json, or qemu.json of its first versions): per guest, one entry
 * or a list: private_ip, an optional public_ip and interface, port_map {proto: [[public, private] | port]},
 * port_range [{init_port, ports_num, protocol}]. Its script adds a DNAT to private_ip and an accept for it.
 */
export function readHookConfig(text: string, path: string): HookScript {
  const script: HookScript = {path, kind: 'qemu', forwards: [], accepts: [], unread: []}
  let config: unknown
  try {
    // The project allows // and /* */ comments in its JSON.
    config = JSON.parse(text.replace(/("(?:[^"\\]|\\.)*")|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (m, s: string | undefined) => s ?? ''))
  } catch {
    script.unread.push({at: path, command: 'not valid JSON'})
    return script
  }
  if (!isObj(config)) return script
  for (const [guest, entries] of Object.entries(config)) {
    for (const [i, entry] of (Array.isArray(entries) ? entries : [entries]).entries()) {
      if (!isObj(entry) || typeof entry.private_ip !== 'string') continue
      const at = `${guest}${Array.isArray(entries) ? `[${i}]` : ''}`
      const addr = entry.private_ip
      const hostAddress = typeof entry.public_ip === 'string' ? entry.public_ip : undefined
      const outDevice = typeof entry.interface === 'string' ? entry.interface : undefined
      const add = (proto: unknown, pub: number, priv: number) => {
        if (proto !== 'tcp' && proto !== 'udp') return
        script.forwards.push({proto, port: pub, ...(hostAddress ? {hostAddress} : {}), target: {addr, port: priv}, object: guest, at})
        script.accepts.push({proto, addr, port: priv, ...(outDevice ? {outDevice} : {}), object: guest, at})
      }
      if (isObj(entry.port_map)) {
        for (const [proto, ports] of Object.entries(entry.port_map)) {
          for (const p of Array.isArray(ports) ? ports : []) {
            if (typeof p === 'number') add(proto, p, p)
            else if (Array.isArray(p) && typeof p[0] === 'number' && typeof p[1] === 'number') add(proto, p[0], p[1])
          }
        }
      }
      for (const r of Array.isArray(entry.port_range) ? entry.port_range : []) {
        // A range stands for its first port, as a ruleset's range does.
        if (isObj(r) && typeof r.init_port === 'number') add(r.protocol, r.init_port, r.init_port)
      }
    }
  }
  return script
}

const CONFIGS = ['hooks.json', 'qemu.json']

export const libvirtHooksProbe: Probe<HookFacts> = {
  id: 'libvirt-hooks',
  title: 'libvirt hook scripts (read, never run)',
  reads: [`${HOOKS_DIR}/qemu`, `${HOOKS_DIR}/network`, `${HOOKS_DIR}/qemu.d/*`, `${HOOKS_DIR}/network.d/*`, ...CONFIGS.map((c) => `${HOOKS_DIR}/${c}`)],
  async collect({runner}) {
    const dir = await runner.listDir(HOOKS_DIR)
    unavailableIfNotRecorded(dir)
    if (dir.errorCode === 'not-found') return {scripts: []}
    if (dir.error !== undefined) throw new ProbeUnavailable(dir.error)
    const names = new Set(dir.output.split('\n').filter(Boolean))
    const files: {path: string; kind: HookScript['kind']; config?: boolean}[] = []
    for (const kind of ['qemu', 'network'] as const) {
      if (names.has(kind)) files.push({path: `${HOOKS_DIR}/${kind}`, kind})
      if (names.has(`${kind}.d`)) {
        const sub = await runner.listDir(`${HOOKS_DIR}/${kind}.d`)
        if (sub.error !== undefined && sub.errorCode !== 'not-found') throw new ProbeUnavailable(sub.error)
        for (const n of sub.error ? [] : sub.output.split('\n').filter(Boolean)) files.push({path: `${HOOKS_DIR}/${kind}.d/${n}`, kind})
      }
    }
    // The configuration only means something with a qemu hook to read it.
    if (names.has('qemu') || names.has('qemu.d')) for (const c of CONFIGS) if (names.has(c)) files.push({path: `${HOOKS_DIR}/${c}`, kind: 'qemu', config: true})
    const scripts: HookScript[] = []
    for (const f of files) {
      const c = await runner.readFile(f.path)
      if (c.error !== undefined) throw new ProbeUnavailable(`${f.path}: ${c.error}`)
      scripts.push(f.config ? readHookConfig(c.output, f.path) : readHookScript(c.output, f.path, f.kind))
    }
    return {scripts}
  },
}
