/** `trace --inbound [HOST_ADDR:]PORT/PROTO`, `trace GUEST --from ADDR` and `--publish`, through the CLI on a recording. */
import {describe, expect, it} from 'vitest'
import {parseInbound, parsePublish} from '../src/datapath/destination.js'
import {fixtureDir, kvmdoctorCli} from './helpers.js'

const HEALTHY = fixtureDir('healthy')

describe('inbound arguments', () => {
  it('parses [HOST_ADDR:]PORT/PROTO and GUEST:PORT/PROTO, refusing what is not', () => {
    expect(parseInbound('8080/tcp')).toEqual({port: 8080, proto: 'tcp'})
    expect(parseInbound('198.51.100.1:53/UDP')).toEqual({port: 53, proto: 'udp', hostAddress: '198.51.100.1'})
    expect(parseInbound('8080')).toMatch(/is not \[HOST_ADDR:\]PORT/)
    expect(parseInbound('1.2.3:80/tcp')).toMatch(/is not an IPv4 address/)
    expect(parseInbound('0/tcp')).toMatch(/out of range/)
    // A guest name may hold colons: the port is after the last one.
    expect(parsePublish('web:01:443/tcp')).toEqual({guest: 'web:01', port: 443, proto: 'tcp'})
    expect(parsePublish('web01:70000/tcp')).toMatch(/out of range/)
    expect(parsePublish('web01/tcp')).toMatch(/is not GUEST:PORT/)
  })
})

describe('trace --inbound and --from ADDR', () => {
  it('follows a --publish nothing forwards from outside and from the host: both fail at the DNAT, exit 1', async () => {
    const r = await kvmdoctorCli(['trace', '--from', HEALTHY, '--inbound', '80/tcp', '--publish', 'kdlab-web01:80/tcp', '--json'])
    expect(r.exitCode).toBe(1)
    const t = JSON.parse(String(r.stdout)) as {guest: string; inbound: string; flows: {kind: string; verdict: string; forward: string; decidedBy: {name: string}}[]}
    expect(t.guest).toBe('--inbound 80/tcp')
    expect(t.flows.map((f) => [f.kind, f.verdict, f.decidedBy.name])).toEqual([
      ['inbound', 'fail', 'DNAT'],
      ['hairpin-host', 'fail', 'DNAT'],
    ])
  }, 60_000)

  it('a forward to an address no guest holds names that address as the flow\'s subject, never an empty guest (lab: inbound-dnat-stale)', async () => {
    const r = await kvmdoctorCli(['trace', '--from', fixtureDir('inbound-dnat-stale'), '--inbound', '8080/tcp'])
    expect(String(r.stdout)).toContain('Flow 1/1: inbound  192.168.122.250 (no guest holds it)  network default, bridge virbr0')
  }, 60_000)

  it('a port nothing publishes is said so, and is no pass (exit 1)', async () => {
    const r = await kvmdoctorCli(['trace', '--from', HEALTHY, '--inbound', '8080/tcp'])
    expect(r.exitCode).toBe(1)
    expect(String(r.stdout)).toContain('Nothing publishes what was asked (connections from outside to the host:8080/tcp)')
  }, 60_000)

  it('GUEST --from ADDR: the guest\'s published ports from that client, arriving by the device the host routes it through', async () => {
    const r = await kvmdoctorCli(['trace', 'kdlab-web01', '--from', HEALTHY, '--from', '203.0.113.7', '--publish', 'kdlab-web01:80/tcp'])
    expect(r.exitCode).toBe(1)
    const out = String(r.stdout)
    expect(out).toContain('connections from 203.0.113.7 to the published ports of kdlab-web01')
    expect(out).toContain("assumes: 203.0.113.7's packets arrive by eth0, the device the host routes 203.0.113.7 through")
    // From a named client only: no hairpin flows.
    expect(out).not.toContain('hairpin')
  }, 60_000)

  it('refuses a guest with --inbound, two clients, an unknown --publish guest and a bad port (exit 2, one line)', async () => {
    for (const [args, message] of [
      [['trace', 'kdlab-web01', '--inbound', '80/tcp', '--from', HEALTHY], '--inbound follows a published port wherever it leads: name no guest'],
      [['trace', 'kdlab-web01', '--from', '203.0.113.7', '--from', '203.0.113.8'], '--from: at most one recording and one client address'],
      [['trace', '--inbound', '80/tcp', '--from', HEALTHY, '--publish', 'nobody:80/tcp'], '--publish: no guest named "nobody" (guests: kdlab-web01)'],
      [['trace', '--inbound', '80'], '--inbound: "80" is not [HOST_ADDR:]PORT/tcp|udp'],
      [['trace', 'kdlab-web01', '--from', HEALTHY, '--ssh', 'root@hv'], '--from RECORDING and --ssh exclude each other'],
    ] as const) {
      const r = await kvmdoctorCli([...args])
      expect(r.exitCode, args.join(' ')).toBe(2)
      expect(String(r.stderr).trim()).toBe(`kvmdoctor: ${message}`)
    }
  }, 120_000)
})

describe('diagnose --publish', () => {
  it('reports a service the user expects that nothing forwards: port-forward-blocked on that forward, the inbound flows in the report', async () => {
    const r = await kvmdoctorCli(['diagnose', '--from', HEALTHY, '--publish', 'kdlab-web01:80/tcp', '--format', 'json', '--allow-unchecked'])
    const d = JSON.parse(String(r.stdout)) as {findings: {id: string; entity: {name: string}}[]; flows: {kind: string; verdict: string}[]}
    expect(d.findings.filter((f) => f.id === 'port-forward-blocked').map((f) => f.entity.name)).toEqual([expect.stringMatching(/^tcp 80 -> 192\.168\.122\.\d+:80$/)])
    expect(d.flows.filter((f) => f.kind === 'inbound').map((f) => f.verdict)).toEqual(['fail'])
    // Without --publish the same recording has no forward, and no inbound finding.
    const plain = JSON.parse(String((await kvmdoctorCli(['diagnose', '--from', HEALTHY, '--format', 'json', '--allow-unchecked'])).stdout)) as typeof d
    expect(plain.findings.filter((f) => f.id === 'port-forward-blocked')).toEqual([])
    expect(plain.flows.filter((f) => f.kind === 'inbound')).toEqual([])
  }, 60_000)
})
