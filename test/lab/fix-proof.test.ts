/**
 * The fixes, proven on the live lab (issue 23): a scenario is injected, its root cause's fix
 * is applied exactly as printed through `kvmdoctor fix --yes`, and then the guests recover by
 * their own measurements, the guests the fix does not name kept running (same QEMU pid), the
 * host's exposure seen from the lab's outside namespace is what it was, and the host's state
 * (firewall, sysctls, routes, rules, networks) is the pre-fault state.
 * Run alone: `flock /run/lock/kvmdoctor-lab.lock npm run test:lab -- test/lab/fix-proof.test.ts`.
 */
import {execa} from 'execa'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {REACH_OK} from '../scenarios.js'
import {captureHostState, diffHostState, restoreHostState, restoreSavedHostState, saveHostState} from './host-state.js'
import {CACHE, INET, ROOT, cleanLab, ensureHost, kvmdoctor, sh, startGuest, startInternet, waitFor} from './lab.js'
import {reachSeq, runningLabGuests, waitReachOk} from './oracle.js'
import {LIVE, WEB01} from './scenarios-live.js'

const HOST_STATE = join(CACHE, 'kdlab-fix-host-state.json')
const INTERNET = `${INET.server}:${INET.port}/tcp`

/** The scenarios whose root-cause fix is proven here. */
const PROVEN = ['network-inactive', 'dnsmasq-killed', 'dns-port-conflict', 'docker-user-drop', 'mac-duplicate', 'tap-detached', 'forward-reject-subnet', 'dhcp-input-drop']

/**
 * Fixes that work around what the fault put there, which stays (Docker's ruleset and its drop in DOCKER-USER, an
 * admin's reject or drop): their host state is judged against the faulted state, and must differ from it by exactly
 * the fix's own accepts.
 */
const WORKS_AROUND = new Set(['docker-user-drop', 'forward-reject-subnet', 'dhcp-input-drop'])

/** A guest's QEMU process and when it started (clock ticks after boot, /proc/PID/stat field 22): the same pair is the same run, uptime unbroken. */
const qemuPid = (guest: string) => {
  const file = `/run/libvirt/qemu/${guest}.pid`
  if (!existsSync(file)) return undefined
  const pid = readFileSync(file, 'utf8').trim()
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : ''
  return `${pid} started at ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '?'}`
}

type FlowVerdicts = Map<string, string>
/** Every flow of the live diagnosis by guest, interface and kind, with its verdict. */
const flowVerdicts = (report: {flows?: {guest: string; iface: string; kind: string; verdict: string}[]}): FlowVerdicts =>
  new Map((report.flows ?? []).map((f) => [`${f.guest} ${f.iface} ${f.kind}`, f.verdict]))

/** A rule as iptables-save prints it, without the protocol match it adds itself (`-p tcp --dport 53` prints `-p tcp -m tcp --dport 53`). */
const sameRule = (rule: string) => rule.replace(/ -m (tcp|udp)(?= )/g, '')
/** The rules iptables-save prints (one per line, as -A CHAIN ...): what a fix adds or deletes. */
const iptablesRules = (save: string) => save.split('\n').filter((l) => l.startsWith('-A ')).map(sameRule)

/** The rules a printed fix line adds, as iptables-save prints them (`iptables -t filter -I CHAIN spec` → `-A CHAIN spec`). */
const addedRules = (printed: string) =>
  printed
    .split('\n')
    .filter((l) => /^iptables -t filter -I /.test(l))
    .map((l) => sameRule(`-A ${l.replace(/^iptables -t filter -I /, '')}`))

/** TCP ports of the host's uplink-side address that answer from the lab's outside namespace (a connect sweep). */
async function exposure(): Promise<number[]> {
  const sweep = `
import asyncio
async def probe(port, sem):
    async with sem:
        try:
            _, w = await asyncio.wait_for(asyncio.open_connection('${INET.hostAddr}', port), 0.5)
            w.close()
            return port
        except Exception:
            return None
async def main():
    sem = asyncio.Semaphore(256)
    ports = list(range(1, 1025)) + [2024, 5355, 8080, 16509, 16514]
    print(' '.join(str(p) for p in await asyncio.gather(*(probe(p, sem) for p in ports)) if p))
asyncio.run(main())`
  const r = await sh(['ip', 'netns', 'exec', INET.netns, 'python3', '-c', sweep])
  return r.stdout.trim().split(/\s+/).filter(Boolean).map(Number)
}

/** The first root cause the live diagnosis ranks that has fix lines (of two guests sharing a MAC, the copy's). */
async function rootCause(): Promise<{id: string; entity: {kind: string; name: string}}> {
  const run = await kvmdoctor([])
  const findings = run.report.findings as unknown as {id: string; entity: {kind: string; name: string}; explainedBy?: string; fixSteps: unknown[]}[]
  const roots = findings.filter((f) => !f.explainedBy && f.fixSteps.length > 0)
  expect(roots.length, `a root cause with a fix (findings: ${findings.map((f) => f.id).join(', ')})`).toBeGreaterThan(0)
  return roots[0]
}

/** The taps of running guests (virsh domiflist's Interface column). */
async function tapsOf(guests: string[]): Promise<string[]> {
  const lists = await Promise.all(guests.map(async (g) => (await sh(['virsh', 'domiflist', g], {reject: false})).stdout))
  return lists.flatMap((l) => l.split('\n').slice(2).map((row) => row.trim().split(/\s+/)[0]).filter((t) => t && t !== '-'))
}

/** A guest the injection booted is the scenario's, not the fix's: its tap is new, with its own sysctls (a new one when the fix replaced its interface). */
const ofTaps = (taps: string[]) => (d: string) => taps.some((t) => d.startsWith(`sysctl net/ipv4/conf/${t}/`) || d.startsWith(`sysctl net/ipv6/conf/${t}/`) || d.startsWith(`sysctl net/ipv4/neigh/${t}/`) || d.startsWith(`sysctl net/ipv6/neigh/${t}/`)) && /: new \(/.test(d)

describe('fixes proven on the lab', () => {
  beforeAll(async () => {
    await ensureHost()
    await cleanLab()
    const {recovered} = await saveHostState(HOST_STATE)
    if (recovered.length > 0) console.warn(`restored what an interrupted lab run left:\n  ${recovered.join('\n  ')}`)
    await startInternet()
    await startGuest(WEB01)
    await waitReachOk(WEB01.name, {after: reachSeq(WEB01.name)})
  }, 600_000)

  afterAll(async () => {
    try {
      await cleanLab()
    } finally {
      await restoreSavedHostState(HOST_STATE)
    }
  }, 180_000)

  for (const name of PROVEN) {
    it(`fix-proof ${name}: the printed root-cause fix, applied with kvmdoctor fix --yes, brings the guests back and changes nothing else`, async () => {
      const live = LIVE[name]
      const before = await captureHostState()
      const exposed = await exposure()
      const healthy = (await kvmdoctor([])).report
      const baseline = healthy.findings.map((f) => `${f.id}@${f.entity.kind}:${f.entity.name}`)
      const baselineFlows = flowVerdicts(healthy as never)
      const guestsBefore = await runningLabGuests()
      let accepts: string[] = []
      try {
        await live.inject()
        const guests = await runningLabGuests()
        const pids = Object.fromEntries(guests.map((g) => [g, qemuPid(g)]))
        const faulted = await captureHostState()
        const faultedFlows = flowVerdicts((await kvmdoctor([])).report as never)
        const root = await rootCause()
        const target = `${root.id}@${root.entity.kind}:${root.entity.name}`
        const printed = await execa(process.execPath, [join(ROOT, 'bin/run.js'), 'fix', target, '--internet', INTERNET], {reject: false, stdin: 'ignore'})
        accepts = addedRules(String(printed.stdout))
        const applied = await execa(process.execPath, [join(ROOT, 'bin/run.js'), 'fix', target, '--yes', '--internet', INTERNET], {reject: false, stdin: 'ignore', timeout: 240_000})
        console.info(`${name}: ${target}\n${String(applied.stdout)}\n${String(applied.stderr)}`)
        // What ran is what was printed.
        expect(String(applied.stdout)).toBe(String(printed.stdout))
        expect(applied.exitCode, `kvmdoctor fix ${target} --yes: ${String(applied.stderr)}`).toBe(0)
        // The guests the fix does not name kept running in the same QEMU process.
        const named = new Set(String(printed.stdout).match(/kdlab-[\w-]+/g) ?? [])
        const kept = guests.filter((x) => !named.has(x))
        for (const g of kept) expect(qemuPid(g), `${g} kept running`).toBe(pids[g])
        console.info(`${name}: guests the fix does not name, same QEMU process and start time: ${kept.map((g) => `${g} (pid ${pids[g]})`).join(', ') || 'none'}`)
        // Of two guests sharing a MAC the fix touches the copy only: the original (web01) is among those kept running.
        if (name === 'mac-duplicate') expect(kept).toContain(WEB01.name)
        // The guests recover by their own measurements: web01 in full; another guest the fault left on a
        // self-assigned address gave up on DHCP (busybox udhcpc -n), so its fresh DHCP exchange is what it measures.
        for (const g of (await runningLabGuests()).filter((x) => x === WEB01.name || !named.has(x))) {
          const after = await waitReachOk(g, {after: reachSeq(g), timeoutMs: 90_000})
          const measured = {dhcp: after.dhcp, dns: after.dns, ping: after.ping, tcp: after.tcp}
          if (g === WEB01.name) expect(measured, `${name}: ${g} after the fix`).toEqual(REACH_OK)
          else expect(measured.dhcp, `${name}: ${g}'s DHCP after the fix (${JSON.stringify(measured)})`).toBe('ok')
        }
        const fixed = await captureHostState()
        if (WORKS_AROUND.has(name)) {
          // The faulted state plus exactly the fix's accepts: nothing deleted, nothing else added, nothing else changed.
          const [was, now] = [iptablesRules(faulted.iptables['iptables-save']), iptablesRules(fixed.iptables['iptables-save'])]
          const added = now.filter((r) => !was.includes(r))
          console.info(`${name}: rules the fix added: ${added.join('; ')}`)
          expect(was.filter((r) => !now.includes(r)), `${name}: rules the fix deleted`).toEqual([])
          expect(added.sort(), `${name}: rules the fix added`).toEqual(addedRules(String(printed.stdout)).sort())
          expect(added.length).toBeGreaterThan(0)
          const others = diffHostState(faulted, fixed).filter((d) => !/^(iptables-save filter|nft table ip filter)\b/.test(d))
          expect(others, `${name}: host state after the fix, beside the filter table`).toEqual([])
        } else {
          // The host's state is the pre-fault state.
          const booted = await tapsOf((await runningLabGuests()).filter((g) => !guestsBefore.includes(g)))
          const changed = diffHostState(before, fixed).filter((d) => !ofTaps(booted)(d))
          console.info(`${name}: host state after the fix: ${changed.length === 0 ? `as before the fault (but for the taps of the guests the injection booted: ${booted.join(', ') || 'none'})` : changed.join('; ')}`)
          expect(changed, `${name}: host state after the fix`).toEqual([])
        }
        // No new finding in the full diagnosis beyond the ones the fault's own leftovers explain (the guests the injection
        // booted: kdlab-apipa01 gave up on DHCP before the fix, as busybox's udhcpc -n does, and keeps its 169.254 address).
        const after = (await kvmdoctor([])).report
        const now = after.findings.map((f) => `${f.id}@${f.entity.kind}:${f.entity.name}`)
        expect(now.filter((k) => !baseline.includes(k) && !k.includes('kdlab-dup01') && !k.includes('kdlab-apipa01')), `${name}: findings after the fix`).toEqual([])
        // Re-traced flow by flow: every flow of the guests that ran before the fault has its pre-fault verdict again
        // (the flows the fault stopped pass again; no other flow changed). A guest the injection booted has no baseline.
        const fixedFlows = flowVerdicts(after as never)
        const stopped = [...baselineFlows].filter(([k, v]) => faultedFlows.get(k) !== v)
        console.info(`${name}: ${baselineFlows.size} flows re-traced; the fault changed ${stopped.length}: ${stopped.map(([k, v]) => `${k} ${v} -> ${faultedFlows.get(k) ?? 'gone'} -> ${fixedFlows.get(k) ?? 'gone'}`).join('; ') || 'none'}`)
        expect(baselineFlows.size).toBeGreaterThan(0)
        expect(Object.fromEntries([...baselineFlows].map(([k]) => [k, fixedFlows.get(k)])), `${name}: flow verdicts after the fix`).toEqual(Object.fromEntries(baselineFlows))
        // The host's exposure from outside is what it was.
        expect(await exposure(), `${name}: ports open from ${INET.netns}`).toEqual(exposed)
      } finally {
        // A fix that worked around the fault leaves its accepts, which the scenario's reset does not know: they go first.
        if (WORKS_AROUND.has(name)) for (const rule of accepts) await sh(['iptables', '-t', 'filter', '-D', ...rule.split(' ').slice(1)], {reject: false})
        // The fault's own leftovers (a second guest, a rogue dnsmasq) go; whatever the fix changed shows in the state check.
        await live.reset().catch(() => undefined)
      }
      const residue = diffHostState(before, await captureHostState())
      if (residue.length > 0) await restoreHostState(before)
      expect(residue, `${name}: the host after fix and reset`).toEqual([])
      await waitFor('web01 back', async () => (await runningLabGuests()).includes(WEB01.name), 10_000)
    }, 420_000)
  }
})
