/**
 * The live lab suite (root, real libvirt, real guests): each scenario is
 * injected for real, diagnosed live, recorded into fixtures/<scenario>, reset.
 */
import {execa} from 'execa'
import {rm} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {SCENARIOS, checkScenario} from '../scenarios.js'
import {ROOT, cleanLab, ensureHost, guestAddresses, kvmdoctor, sh, startGuest, waitFor} from './lab.js'
import {LIVE, WEB01} from './scenarios-live.js'

async function leaseFor(mac: string): Promise<boolean> {
  const out = await sh(['virsh', 'net-dhcp-leases', 'default'], {reject: false})
  return out.stdout.includes(mac)
}

/** `kvmdoctor ip` live: the verdicts expected, and for every lab guest the addresses its own console prints. */
async function checkIpAgainstConsoles(expected: {domain: string; verdict: string}[], args: string[]): Promise<void> {
  const r = await execa(process.execPath, [join(ROOT, 'bin/run.js'), 'ip', '--json', ...args.filter((a) => a === '--active')], {reject: false, stdin: 'ignore'})
  const inventory = JSON.parse(String(r.stdout)) as {rows: {domain: string; state: string; verdict: string; ipv4: {ip: string}[]}[]}
  for (const want of expected) expect(inventory.rows.find((row) => row.domain === want.domain)?.verdict, `ip verdict of ${want.domain}`).toBe(want.verdict)
  for (const row of inventory.rows.filter((x) => x.domain.startsWith('kdlab-') && x.state === 'running')) {
    const console = (guestAddresses(row.domain) ?? []).map((a) => a.split('/')[0]).sort()
    expect(row.ipv4.map((a) => a.ip).sort(), `addresses of ${row.domain} (console says ${console.join(' ')})`).toEqual(console)
  }
}

describe('lab host', () => {
  beforeAll(async () => {
    await ensureHost()
    await cleanLab()
    const addrs = await startGuest(WEB01)
    expect(addrs.some((a) => a.startsWith('192.168.122.'))).toBe(true)
    await waitFor('web01 lease', () => leaseFor(WEB01.mac), 30_000)
  }, 600_000)

  afterAll(async () => {
    await cleanLab()
  }, 120_000)

  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: ${scenario.description}`, async () => {
      const live = LIVE[scenario.name]
      expect(live, `no live recipe for ${scenario.name}`).toBeDefined()
      const fixture = join(ROOT, 'fixtures', scenario.name)
      await rm(fixture, {recursive: true, force: true})
      await live.inject()
      try {
        const run = await kvmdoctor(['--record', fixture, ...(scenario.args ?? [])], live.netns)
        checkScenario(scenario, run.report)
        if (scenario.ip) await checkIpAgainstConsoles(scenario.ip, scenario.args ?? [])
        // The default --fail-on is high.
        expect(run.exitCode).toBe(run.report.findings.some((f) => f.severity === 'critical' || f.severity === 'high') ? 1 : 0)
      } finally {
        await live.reset()
      }
    }, 300_000)
  }

  it('the guest still reports the address the host leased to it', async () => {
    const run = await kvmdoctor([])
    checkScenario(SCENARIOS[0], run.report)
    expect(guestAddresses(WEB01.name)?.some((a) => a.startsWith('192.168.122.'))).toBe(true)
  }, 120_000)
})
