/**
 * npm run bench: in one run, side by side: kvmdoctor's analysis from a laptop-sized host to 10,000
 * guests (a linear fit over the sizes, peak memory of each), its cold start against `node -e 0`,
 * replay of a lab recording, live diagnose against the serial manual runbook on this host (read-only),
 * and the installed size of the packed package. Prints a table and writes bench/results/latest.md
 * with the machine's description. CPU times sit beside wall times: on a shared machine the wall
 * time is mostly the others' load.
 *   npm run bench [-- --no-live] [-- --lab]   (--lab: the rows that start guests; run it under the lab lock)
 *   npm run bench -- --live [--lab]           (only the live rows, printed)
 */
import {execFile} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile} from 'node:fs/promises'
import {cpus, loadavg, tmpdir, totalmem} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'
import {generateSnapshot} from './generate.js'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CACHE = join(ROOT, 'bench', '.cache')
const MEASURE = join(ROOT, 'dist-bench', 'bench', 'measure.js')
const BIN = join(ROOT, 'bin', 'run.js')

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** The user + system CPU time of this process's ended children so far (/proc/self/stat cutime + cstime, USER_HZ 100). */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[13]) + Number(fields[14])) * 10
}

interface Timing {
  wallMs: number
  cpuMs: number
}

/** Median wall time and median CPU time of REPEAT runs of ARGV (a failing exit is a result, not an error). */
async function timeCommand(argv: string[], repeat: number): Promise<Timing> {
  const walls: number[] = []
  const spent: number[] = []
  for (let i = 0; i < repeat; i++) {
    const cpuBefore = childrenCpuMs()
    const started = performance.now()
    await run(argv[0], argv.slice(1), {maxBuffer: 256 * 1024 * 1024}).catch((error: {code?: number}) => {
      if (typeof error.code !== 'number') throw error
    })
    walls.push(performance.now() - started)
    spent.push(childrenCpuMs() - cpuBefore)
  }
  return {wallMs: median(walls), cpuMs: median(spent)}
}

const ms = (t: number) => `${Math.round(t)} ms`
const verdict = (value: number, target: number) => (value <= target ? 'met' : `MISSED by ${((value / target - 1) * 100).toFixed(0)} %`)

interface ScaleResult {
  domains: number
  rules: number
  wallMs: number
  analysisMs: number
  cpuMs: number
  maxRssMb: number
  findings: number
}

class Refused extends Error {}

async function scale(domains: number, rules: number): Promise<ScaleResult | {domains: number; rules: number; refused: string}> {
  try {
    return await scaleOnce(domains, rules)
  } catch (error) {
    if (error instanceof Refused) return {domains, rules, refused: error.message.replace(/^\S*: /, '')}
    throw error
  }
}

async function scaleOnce(domains: number, rules: number): Promise<ScaleResult> {
  const dir = join(CACHE, `d${domains}-r${rules}`)
  if (!existsSync(join(dir, 'manifest.json'))) await generateSnapshot(dir, {domains, rules, networks: Math.max(1, Math.ceil(domains / 200))})
  const samples: {wall: number; ms: number; cpu: number; rss: number; findings: number}[] = []
  const repeat = domains >= 5000 ? 3 : 5
  for (let i = 0; i < repeat; i++) {
    const started = performance.now()
    const r = await run(process.execPath, [MEASURE, 'diagnose', '--from', dir, '--format', 'json', '--fail-on', 'none'], {maxBuffer: 1024 * 1024 * 1024}).catch((error: {stdout?: string}) => {
      // Refused (exit 2, the error object on stdout): a limit kvmdoctor keeps, reported as the row's result.
      throw new Refused(JSON.parse(error.stdout ?? '{}')?.error?.message ?? String(error))
    })
    const wall = performance.now() - started
    const m = JSON.parse(r.stderr.trim().split('\n').pop()!)
    samples.push({wall, ms: m.ms, cpu: m.cpuMs, rss: m.maxRssMb, findings: JSON.parse(r.stdout).findings.length})
  }
  const pick = samples.sort((a, b) => a.wall - b.wall)[Math.floor(repeat / 2)]
  // The synthetic host shapes every tenth guest (one finding each): fewer means part of the snapshot went unread
  // (a probe that failed on it), and a time for analysing less than the host is no measure.
  const expected = Math.ceil(domains / 10)
  if (samples.some((s) => s.findings !== expected)) throw new Error(`${dir}: ${samples.map((s) => s.findings).join(', ')} finding(s), not ${expected}: the synthetic snapshot was not read whole (kvmdoctor diagnose --from ${dir}; one cached by an older generator goes with rm -r ${CACHE})`)
  return {domains, rules, wallMs: Math.round(pick.wall), analysisMs: pick.ms, cpuMs: median(samples.map((s) => s.cpu)), maxRssMb: Math.max(...samples.map((s) => s.rss)), findings: pick.findings}
}

/** Least squares y = a + b x, with R². */
function linearFit(points: {x: number; y: number}[]): {a: number; b: number; r2: number} {
  const n = points.length
  const mx = points.reduce((s, p) => s + p.x, 0) / n
  const my = points.reduce((s, p) => s + p.y, 0) / n
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0)
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0)
  const b = sxy / sxx
  const a = my - b * mx
  const ssRes = points.reduce((s, p) => s + (p.y - (a + b * p.x)) ** 2, 0)
  const ssTot = points.reduce((s, p) => s + (p.y - my) ** 2, 0)
  return {a, b, r2: 1 - ssRes / ssTot}
}

/** `npm run bench -- --no-live`: a run that must not read the host keeps the last live rows, dated. */
const NO_LIVE = process.argv.includes('--no-live')
/** `npm run bench -- --lab`: the rows that start guests (one running for the live comparison, 200 defined, the fleet lab): hold the lab lock (flock /run/lock/kvmdoctor-lab.lock). */
const LAB = process.argv.includes('--lab')

async function previousLiveRows(): Promise<string[]> {
  const old = await readFile(join(ROOT, 'bench', 'results', 'latest.md'), 'utf8').catch(() => '')
  // The rows were measured by the run that wrote them: an earlier --no-live run kept them with that date.
  const keptNote = /^Live rows: from the run of (\S+),/m
  const date = keptNote.exec(old)?.[1] ?? /^Date: (.+)$/m.exec(old)?.[1]
  const rows = old.split('\n')
  const at = rows.findIndex((l) => l.startsWith('| live '))
  if (!date || at < 0) return ['live comparison not run (--no-live) and no earlier run on record']
  const end = rows.findIndex((l, n) => n > at && l.startsWith('## '))
  const kept = rows.slice(at, end < 0 ? undefined : end).filter((l) => !keptNote.test(l)).join('\n').trimEnd().split('\n')
  return [...kept, '', `Live rows: from the run of ${date}, not re-measured by this run (--no-live).`]
}

/**
 * Live diagnose against the runbook people run by hand (11 bare commands, serially, no typing), on this host
 * as it is: read-only, nothing started. The runbook's per-guest commands name up to two running guests.
 * With --lab, on the lab host with one running guest (withLabHost), and then the rows that define 200 domains.
 */
async function liveComparison(): Promise<string[]> {
  if (NO_LIVE) return previousLiveRows()
  if (process.getuid?.() !== 0) return ['live comparison skipped: needs root (sudo npm run bench)']
  if (!LAB) return liveRows()
  return withLabHost(async (lab) => {
    const rows = await liveRows()
    // kvmdoctor ip against the loop people write, at 200 defined domains (and none running).
    await lab.removeGuest(lab.WEB01.name)
    const idle = Array.from({length: 200}, (_, i) => ({name: `kdlab-idle${String(i).padStart(3, '0')}`, mac: `52:54:00:6c:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, mode: 'dhcp'}))
    try {
      for (const g of idle) await lab.defineGuest(g)
      const ip = await timeCommand([process.execPath, BIN, 'ip', '--json'], 5)
      const loop = await timeCommand(['sh', '-c', 'for d in $(virsh list --all --name); do virsh domifaddr "$d" >/dev/null 2>&1; done'], 3)
      rows.push(
        `| live \`kvmdoctor ip\`, 200 defined domains | ${ms(ip.wallMs)} | ${ms(ip.cpuMs)} |`,
        `| \`virsh domifaddr\` loop over the same 200 | ${ms(loop.wallMs)} (${(loop.wallMs / ip.wallMs).toFixed(1)}x kvmdoctor ip) | ${ms(loop.cpuMs)} |`,
      )
      return rows
    } finally {
      for (const g of idle) await lab.removeGuest(g.name)
    }
  })
}

type Lab = typeof import('../test/lab/lab.js')

/**
 * --lab: the lab host brought up for ROWS (libvirtd, the default network, the lab internet, one running guest
 * leased by libvirt's dnsmasq) and the machine put back as it was found: the lab's host state (firewall, sysctls,
 * routes, libvirt networks, Open vSwitch) saved first and restored, the daemons the lab started ended. What
 * still differs afterwards is the last row.
 */
async function withLabHost(rows: (lab: Lab) => Promise<string[]>): Promise<string[]> {
  const lab = await import('../test/lab/lab.js')
  const host = await import('../test/lab/host-state.js')
  const file = join(lab.CACHE, 'kdlab-bench-host-state.json')
  const baseline = await host.startLabHost(file)
  if (baseline.recovered.length > 0) console.warn(`restored what an interrupted lab run left:\n  ${baseline.recovered.join('\n  ')}`)
  let measured: string[] = []
  try {
    await lab.startInternet()
    await lab.startLeasedGuest(lab.WEB01)
    measured = await rows(lab)
  } finally {
    // The daemons and the saved state are put back in any case.
    const putBack = await host.putHostBack(baseline, file)
    const residue = host.diffHostState(baseline.state, await host.captureHostState())
    console.warn(`lab host put back: ${putBack.join('; ') || 'nothing to do'}`)
    measured.push(residue.length === 0 ? '| lab host afterwards: as found (host state compared, daemons the lab started ended) | | |' : `| lab host afterwards: DIFFERS: ${residue.join('; ')} | | |`)
  }
  return measured
}

/** The live rows: diagnose against the serial runbook, interleaved, on this host as it is now. */
async function liveRows(): Promise<string[]> {
  const running = (await run('virsh', ['-r', 'list', '--name']).catch(() => ({stdout: ''}))).stdout.split('\n').filter(Boolean)
  const guests = [...running, ...running, 'none', 'none'].slice(0, 2)
  const runbook = [
    ['ip', 'a'],
    ['ip', 'route'],
    ['virsh', 'net-list', '--all'],
    ['virsh', 'net-dumpxml', 'default'],
    ...guests.flatMap((g) => [['virsh', 'domiflist', g], ['virsh', 'domifaddr', g]]),
    ['iptables', '-t', 'nat', '-L', '-v', '-n'],
    ['sysctl', 'net.ipv4.ip_forward'],
    ['cat', '/var/lib/libvirt/dnsmasq/virbr0.status'],
  ]
  const serial = async () => {
    const cpuBefore = childrenCpuMs()
    const started = performance.now()
    for (const argv of runbook) await run(argv[0], argv.slice(1)).catch(() => undefined)
    return {wallMs: performance.now() - started, cpuMs: childrenCpuMs() - cpuBefore}
  }
  // Alternating, 7 each: the machine's load drifts alike over both.
  const book: Timing[] = []
  const live: Timing[] = []
  const load = loadavg()[0]
  for (let i = 0; i < 7; i++) {
    book.push(await serial())
    live.push(await timeCommand([process.execPath, BIN, 'diagnose', '--format', 'json', '--fail-on', 'none'], 1))
  }
  const runbookT = {wallMs: median(book.map((t) => t.wallMs)), cpuMs: median(book.map((t) => t.cpuMs))}
  const liveT = {wallMs: median(live.map((t) => t.wallMs)), cpuMs: median(live.map((t) => t.cpuMs))}
  const startup = await timeCommand([process.execPath, BIN, '--version'], 7)
  const ratio = liveT.wallMs / runbookT.wallMs
  return [
    `| live \`kvmdoctor diagnose\` (${running.length} running guest${running.length === 1 ? '' : 's'}; load ${load.toFixed(2)} to ${loadavg()[0].toFixed(2)}) | ${ms(liveT.wallMs)} | ${ms(liveT.cpuMs)} |`,
    `| serial manual runbook (${runbook.length} commands, no typing) | ${ms(runbookT.wallMs)} | ${ms(runbookT.cpuMs)} |`,
    `| ratio (target <= 1.0x) | ${ratio.toFixed(2)}x ${verdict(ratio, 1)} | ${(liveT.cpuMs / runbookT.cpuMs).toFixed(2)}x |`,
    `| \`kvmdoctor --version\` (node start, for scale) | ${ms(startup.wallMs)} | ${ms(startup.cpuMs)} |`,
  ]
}

/** The packed package installed as a user installs it (npm install --omit=dev of the tarball, in a scratch directory). */
async function installedSize(): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'kd-bench-install-'))
  try {
    const packed = JSON.parse((await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {cwd: ROOT})).stdout)[0] as {filename: string; size: number; unpackedSize: number}
    await writeFile(join(dir, 'package.json'), '{"name":"kd-bench-install","private":true}\n')
    await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--ignore-scripts', join(dir, packed.filename)], {cwd: dir})
    const modules = join(dir, 'node_modules')
    let bytes = 0
    for (const e of await readdir(modules, {recursive: true, withFileTypes: true})) if (e.isFile()) bytes += (await stat(join(e.parentPath, e.name))).size
    // A package is a directory holding package.json right under a node_modules (or under a scope there).
    const isPackage = (dirs: string[]) => dirs.length === 1 || dirs.at(-2) === 'node_modules' || (dirs.at(-2)!.startsWith('@') && (dirs.length === 2 || dirs.at(-3) === 'node_modules'))
    const packages = (await readdir(modules, {recursive: true})).filter((f) => f.endsWith('/package.json') && isPackage(f.split('/').slice(0, -1))).length
    const mib = bytes / 2 ** 20
    return [
      `| \`npm pack\` tarball | ${(packed.size / 2 ** 20).toFixed(2)} MiB (${(packed.unpackedSize / 2 ** 20).toFixed(2)} MiB unpacked) |`,
      `| installed (\`npm install --omit=dev\` of the tarball), node_modules | ${mib.toFixed(2)} MiB, ${packages} package${packages === 1 ? '' : 's'} (targets <= 10 MiB: ${verdict(mib, 10)}; <= 20 packages: ${verdict(packages, 20)}) |`,
    ]
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}

/** Issue 27's target: the wire's analysis of 200 taps with 10 s of capture each within 2 s. */
async function wireAnalysis(): Promise<string[]> {
  const dir = join(CACHE, 'd200-r1000-listen10')
  if (!existsSync(join(dir, 'manifest.json'))) await generateSnapshot(dir, {domains: 200, rules: 1000, networks: 1, listen: 10})
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as {captures: {argv?: string[]; file: string}[]}
  let packets = 0
  for (const c of manifest.captures.filter((x) => x.argv?.[0] === 'tcpdump')) packets += (await readFile(join(dir, c.file), 'utf8')).split('\n').filter((l) => /^\d{2}:/.test(l)).length
  const samples: {wall: number; ms: number; cpu: number}[] = []
  for (let i = 0; i < 5; i++) {
    const started = performance.now()
    const r = await run(process.execPath, [MEASURE, 'diagnose', '--from', dir, '--format', 'json', '--fail-on', 'none'], {maxBuffer: 256 * 1024 * 1024})
    const m = JSON.parse(r.stderr.trim().split('\n').pop()!)
    samples.push({wall: performance.now() - started, ms: m.ms, cpu: m.cpuMs})
  }
  const pick = samples.sort((a, b) => a.wall - b.wall)[2]
  return [`| \`kvmdoctor diagnose --from\` 200 guests, each tap 10 s of \`--listen\` (${packets} packets) | ${ms(pick.wall)} (in process ${pick.ms} ms; target <= 2 s: ${verdict(pick.wall, 2000)}) | ${ms(median(samples.map((s) => s.cpu)))} |`]
}

async function ipComparison(): Promise<string[]> {
  // kvmdoctor ip over 200 guests vs the virsh domifaddr loop people write, on the same snapshot-sized host.
  const dir = join(CACHE, 'd200-r1000')
  if (!existsSync(join(dir, 'manifest.json'))) await generateSnapshot(dir, {domains: 200, rules: 1000, networks: 1})
  const ip = await timeCommand([process.execPath, BIN, 'ip', '--from', dir, '--json'], 5)
  return [`| \`kvmdoctor ip --from\` 200 guests (synthetic) | ${ms(ip.wallMs)} | ${ms(ip.cpuMs)} |`]
}

/** 500 hosts' JSON reports: the recordings' reports (a healthy host, its faults), each host its own name. */
async function fleetReports(dir: string, hosts: number): Promise<void> {
  const fixtures = ['healthy', 'healthy', 'healthy', 'ip-forward-off', 'masquerade-removed', 'tap-detached', 'firewall-flushed', 'dhcp-range-exhausted', 'forward-reject-subnet', 'dnsmasq-killed']
  const reports: Record<string, unknown>[] = []
  for (const f of fixtures) {
    const r = await run(process.execPath, [BIN, 'diagnose', '--from', join(ROOT, 'fixtures', f), '--format', 'json', '--fail-on', 'none'], {maxBuffer: 64 * 1024 * 1024})
    reports.push(JSON.parse(r.stdout))
  }
  await mkdir(dir, {recursive: true})
  for (let i = 0; i < hosts; i++) {
    const host = `hv${String(i + 1).padStart(4, '0')}`
    await writeFile(join(dir, `${host}.json`), JSON.stringify({...reports[i % reports.length], host}, null, 2))
  }
}

/** The fleet view of 500 reports, and 4 namespace hypervisors (the fleet lab) diagnosed over SSH at once against one run on a host itself. */
async function manyHosts(): Promise<string[]> {
  const dir = join(CACHE, 'fleet-500')
  if (!existsSync(join(dir, 'hv0500.json'))) await fleetReports(dir, 500)
  const fleetMs = (await timeCommand([process.execPath, BIN, 'fleet', dir, '--json'], 5)).wallMs
  // Its CPU time too (GNU time, when there): on a shared machine the wall time is mostly the others' load.
  const cpu = await run('/usr/bin/time', ['-f', '%U %S', process.execPath, BIN, 'fleet', dir, '--json'], {maxBuffer: 256 * 1024 * 1024}).catch((error: {stderr?: string}) => ({stderr: error.stderr ?? ''}))
  const [user, sys] = (/(\d+\.\d+) (\d+\.\d+)\s*$/.exec(cpu.stderr) ?? []).slice(1).map(Number)
  const cpuNote = user === undefined ? '' : `, ${Math.round((user + sys) * 1000)} ms CPU`
  const rows = [`| \`kvmdoctor fleet\` of 500 host reports (--json) | ${Math.round(fleetMs)} ms${cpuNote} (target <= 2 s: ${fleetMs <= 2000 ? 'met' : 'MISSED'}) |`]
  if (process.getuid?.() !== 0) return [...rows, '| SSH rows skipped: the fleet lab needs root (network namespaces) | |']
  // The fleet lab's namespace hypervisors have fixed names: run them only when asked, like the other lab rows.
  if (!LAB && !process.argv.includes('--many-hosts')) return [...rows, '| SSH rows: run with --lab (the fleet lab of namespace hypervisors) | |']
  const {FLEET, startFleet} = await import('../test/lab/fleet-lab.js')
  const lab = await startFleet(FLEET.slice(0, 4))
  try {
    const median5 = async (once: () => Promise<unknown>) => {
      const times: number[] = []
      for (let i = 0; i < 5; i++) {
        const started = performance.now()
        await once()
        times.push(performance.now() - started)
      }
      return median(times)
    }
    const diagnose = ['diagnose', '--format', 'json', '--fail-on', 'none']
    const localMs = await median5(() => lab.onHost(lab.hosts[0], [process.execPath, BIN, ...diagnose]))
    const oneMs = await median5(() => lab.kvmdoctor([...diagnose, '--ssh', `root@${lab.hosts[0].address}`, ...lab.sshOptions]))
    const fourMs = await median5(() => Promise.all(lab.hosts.map((h) => lab.kvmdoctor([...diagnose, '--ssh', `root@${h.address}`, ...lab.sshOptions]))))
    const ratio = fourMs / localMs
    rows.push(
      `| \`kvmdoctor diagnose\` on a namespace hypervisor itself (local run) | ${Math.round(localMs)} ms |`,
      `| the same host from the controller, \`--ssh\` | ${Math.round(oneMs)} ms |`,
      `| 4 namespace hypervisors, \`--ssh\` in parallel | ${Math.round(fourMs)} ms |`,
      `| ratio 4 over SSH / 1 local (target <= 2x) | ${ratio.toFixed(2)}x ${ratio <= 2 ? 'met' : `MISSED by ${((ratio / 2 - 1) * 100).toFixed(0)} %`} |`,
    )
    return rows
  } finally {
    await lab.stop()
  }
}

/** `npm run bench -- --live [--lab]`: only the live rows, printed (latest.md is left as it is). */
if (process.argv.includes('--live')) {
  console.log(`Load average at start (1/5/15 min): ${loadavg().map((l) => l.toFixed(2)).join(' / ')}`)
  for (const line of await liveComparison()) console.log(line)
  process.exit(0)
}

/** `npm run bench -- --many-hosts`: only the many-hosts rows, printed (latest.md is left as it is). */
if (process.argv.includes('--many-hosts')) {
  console.log(`Load average at start (1/5/15 min): ${loadavg().map((l) => l.toFixed(2)).join(' / ')}`)
  for (const line of await manyHosts()) console.log(line)
  process.exit(0)
}

const machine = `${cpus()[0]?.model ?? 'unknown cpu'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${process.platform}`
// A shared machine's other work shows in wall times: the load the run started under is part of the result.
const lines: string[] = [`# kvmdoctor benchmarks`, '', `Machine: ${machine}`, `Date: ${new Date().toISOString()}`, `Load average at start (1/5/15 min): ${loadavg().map((l) => l.toFixed(2)).join(' / ')}`, '']
const log = (line = '') => {
  lines.push(line)
  console.log(line)
}

console.log(lines.join('\n'))
log('## Analysis of `kvmdoctor diagnose --from` (synthetic snapshots; median of 5, of 3 from 5000 domains)')
log('')
log('| domains | iptables rules | wall (CLI, incl. node start) | analysis (in process) | CPU (user + sys) | peak RSS | findings |')
log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
const results: ScaleResult[] = []
// The corners of a small host, then 20 rules a domain from 100 to 10,000 domains (200,000 rules, an iptables-save
// of some 21 MiB): the sizes of the fit.
const SIZES: [number, number][] = [[10, 1000], [10, 20000], [100, 2000], [1000, 20000], [5000, 100000], [10000, 200000]]
const refusals: string[] = []
for (const [domains, rules] of SIZES) {
  const r = await scale(domains, rules)
  if ('refused' in r) {
    refusals.push(`${domains} domains / ${rules} rules: ${r.refused}`)
    log(`| ${r.domains} | ${r.rules} | refused (below) | | | | |`)
    continue
  }
  results.push(r)
  log(`| ${r.domains} | ${r.rules} | ${r.wallMs} ms | ${r.analysisMs} ms | ${r.cpuMs} ms | ${r.maxRssMb} MiB | ${r.findings} |`)
}
const at = (domains: number, rules = domains * 20) => results.find((r) => r.domains === domains && r.rules === rules)
const target = (r: ScaleResult | undefined, wallMs: number, rssMb?: number) =>
  r === undefined ? 'not measured (refused)' : `${verdict(r.wallMs, wallMs)} (${r.wallMs} ms, ${r.cpuMs} ms CPU)${rssMb === undefined ? '' : `, at most ${rssMb} MiB: ${verdict(r.maxRssMb, rssMb)} (${r.maxRssMb} MiB)`}`
log('')
for (const refusal of refusals) log(`Refused: ${refusal}.`)
log(`Targets: 1000 domains / 20k rules at most 0.4 s wall: ${target(at(1000), 400)}; 10,000 / 200k at most 4 s: ${target(at(10000), 4000, 400)}.`)
const fitted = results.filter((r) => r.rules === r.domains * 20)
const fit = linearFit(fitted.map((r) => ({x: r.domains, y: r.analysisMs})))
const cpuFit = linearFit(fitted.map((r) => ({x: r.domains, y: r.cpuMs})))
const rssFit = linearFit(fitted.map((r) => ({x: r.domains, y: r.maxRssMb})))
log(`Linear fit over ${fitted.length} sizes (${fitted.map((r) => r.domains).join(', ')} domains, 20 rules each): analysis = ${fit.a.toFixed(0)} ms + ${(fit.b * 1000).toFixed(0)} µs per domain (R² ${fit.r2.toFixed(3)}); CPU = ${cpuFit.a.toFixed(0)} ms + ${(cpuFit.b * 1000).toFixed(0)} µs per domain (R² ${cpuFit.r2.toFixed(3)}); peak RSS = ${rssFit.a.toFixed(0)} MiB + ${(rssFit.b * 1024).toFixed(1)} KiB per domain (R² ${rssFit.r2.toFixed(3)}).`)
const [small, large] = [fitted[0], fitted.at(-1)!]
log(`${(large.domains / small.domains).toFixed(0)}x the host (${small.domains} to ${large.domains} domains) takes ${(large.analysisMs / small.analysisMs).toFixed(1)}x the analysis time and ${(large.cpuMs / small.cpuMs).toFixed(1)}x the CPU (linear with a fixed start-up cost: at most ${(large.domains / small.domains).toFixed(0)}x).`)
log('')
log('## Cold start, replay and install')
log('')
log('| measurement | wall (median) | CPU (median) |')
log('| --- | ---: | ---: |')
const help = await timeCommand([process.execPath, BIN, '--help'], 11)
const version = await timeCommand([process.execPath, BIN, '--version'], 11)
const bare = await timeCommand([process.execPath, '-e', '0'], 11)
const replay = await timeCommand([process.execPath, BIN, 'diagnose', '--from', join(ROOT, 'fixtures', 'masquerade-removed'), '--format', 'json', '--fail-on', 'none'], 7)
log(`| \`node -e 0\` | ${ms(bare.wallMs)} | ${ms(bare.cpuMs)} |`)
log(`| \`kvmdoctor --help\` | ${ms(help.wallMs)} (${(help.wallMs / bare.wallMs).toFixed(2)}x node; target <= 1.5x: ${verdict(help.wallMs / bare.wallMs, 1.5)}) | ${ms(help.cpuMs)} (${(help.cpuMs / bare.cpuMs).toFixed(2)}x) |`)
log(`| \`kvmdoctor --version\` | ${ms(version.wallMs)} (${(version.wallMs / bare.wallMs).toFixed(2)}x node) | ${ms(version.cpuMs)} (${(version.cpuMs / bare.cpuMs).toFixed(2)}x) |`)
log(`| replay of a lab recording (\`diagnose --from fixtures/masquerade-removed\`) | ${ms(replay.wallMs)} | ${ms(replay.cpuMs)} |`)
const codeCache = (await import(join(ROOT, 'bin', 'code-cache.js'))) as {QUICK_DIAGNOSE: unknown; QUICK_HELP: unknown; hasCodeCache(script: unknown): boolean}
const cached = codeCache.hasCodeCache(codeCache.QUICK_DIAGNOSE) && codeCache.hasCodeCache(codeCache.QUICK_HELP)
log(`| V8 code cache of the quick paths (bin/code-cache.js) | ${cached ? `built for node ${process.version}` : `none for node ${process.version}: they are compiled on every run`} | |`)
log('')
log('| package | size |')
log('| --- | ---: |')
for (const line of await installedSize()) log(line)
log('')
log('## Guest addresses and live diagnosis')
log('')
log('| measurement | wall (median) | CPU (median) |')
log('| --- | ---: | ---: |')
for (const line of [...(await ipComparison()), ...(await wireAnalysis()), ...(await liveComparison())]) log(line)
log('')
log('## Many hosts')
log('')
log('| measurement | median of 5 |')
log('| --- | ---: |')
for (const line of await manyHosts()) log(line)
await mkdir(join(ROOT, 'bench', 'results'), {recursive: true})
await writeFile(join(ROOT, 'bench', 'results', 'latest.md'), lines.join('\n') + '\n')
console.log(`\nwritten to bench/results/latest.md`)
