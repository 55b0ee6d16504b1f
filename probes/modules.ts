import {lines} from '../src/lib/runner.js'
import {markDegraded} from '../src/lib/degraded.js'
import type {HostFacts} from './host.js'
import {type Probe, type ProbeResult, ProbeUnavailable, unavailableIfNotRecorded} from './types.js'

/** Kernel modules: what is loaded now, and what the running kernel has built in. */
export interface ModuleFacts {
  /** false: the kernel has no loadable-module support (no /proc/modules): whatever it has is built in. */
  loadable: boolean
  /** Loaded module names (underscores, as /proc/modules prints them). */
  loaded: string[]
  /** Built-in module names from modules.builtin; null when that file could not be read (then absence from `loaded` proves nothing). */
  builtin: string[] | null
}

/** Module names as the kernel compares them: '-' and '_' are the same. */
export const moduleName = (name: string) => name.replaceAll('-', '_')

/** /proc/modules: "nf_nat 61440 3 xt_MASQUERADE,nft_chain_nat, Live 0x0000000000000000". */
export function parseProcModules(text: string): string[] {
  return lines(text)
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n) => /^[A-Za-z0-9_-]+$/.test(n))
    .map(moduleName)
}

/** modules.builtin: one path a line, "kernel/net/netfilter/nf_nat.ko". */
export function parseModulesBuiltin(text: string): string[] {
  return lines(text)
    .map((l) => /([^/\s]+)\.ko(?:\.[a-z]+)?\s*$/.exec(l.trim())?.[1])
    .filter((n): n is string => n !== undefined)
    .map(moduleName)
}

/** Whether a module is in the kernel now: loaded, or built in; undefined when that cannot be told. */
export function moduleAvailable(facts: ModuleFacts, name: string): boolean | undefined {
  const n = moduleName(name)
  if (facts.loaded.includes(n) || facts.builtin?.includes(n)) return true
  // Without module support, or without the list of built-ins, an absent name may still be compiled in.
  if (!facts.loadable || facts.builtin === null) return undefined
  return false
}

export const modulesProbe: Probe<ModuleFacts> = {
  id: 'modules',
  title: 'Kernel modules (loaded and built in)',
  reads: ['/proc/modules', '/lib/modules/RELEASE/modules.builtin'],
  async collect({runner, get}) {
    const host = (await get<HostFacts>('host')) as ProbeResult<HostFacts>
    const procModules = await runner.readFile('/proc/modules')
    unavailableIfNotRecorded(procModules)
    if (procModules.errorCode === 'not-found') return {loadable: false, loaded: [], builtin: null}
    if (procModules.error !== undefined) throw new ProbeUnavailable(procModules.error)
    const facts: ModuleFacts = {loadable: true, loaded: parseProcModules(procModules.output), builtin: null}
    if (!host.ok) return markDegraded(facts, [`modules.builtin: the kernel release is unknown (${host.error})`])
    if (!/^[\w.+~-]+$/.test(host.data.kernel)) return markDegraded(facts, [`modules.builtin: unexpected kernel release ${JSON.stringify(host.data.kernel.slice(0, 40))}`])
    const builtin = await runner.readFile(`/lib/modules/${host.data.kernel}/modules.builtin`)
    if (builtin.error !== undefined) return markDegraded(facts, [`modules.builtin: ${builtin.error}`])
    facts.builtin = parseModulesBuiltin(builtin.output)
    return facts
  },
}
