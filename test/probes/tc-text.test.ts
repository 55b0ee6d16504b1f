/**
 * tc's text filter listing: what the tc probe reads where the JSON is invalid (u32 before iproute2 5.18,
 * police before 5.14: Debian 11, Ubuntu 20.04 and 22.04) or holds a policer, whose rate, burst and mtu
 * tc's JSON never prints. Real 6.1 listings (test/data/tc/capture.sh) and 5.10's (test/data/tc/iproute2-5.10).
 */
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {type TcFacts, type TcFilter, parseFilters, parseQdiscs, tcProbe} from '../../probes/tc.js'
import {parseFilterText} from '../../probes/tc-text.js'
import {tcVerdict} from '../../src/datapath/tc.js'
import type {CommandCapture, Runner} from '../../src/lib/runner.js'
import {ROOT, factsOfDir, fireAll, fixtureDir} from '../helpers.js'

const data = (f: string) => readFileSync(join(ROOT, 'test/data/tc', f), 'utf8')
const withoutStats = (filters: TcFilter[]) => filters.map((f) => ({...f, actions: f.actions.map(({stats: _stats, ...a}) => a)}))

/** A host with one tap under an ingress qdisc whose filter listings answer from `listings` (argv joined); anything else is not recorded. */
function tapHost(listings: Record<string, string>): {runner: Runner; asked: string[]} {
  const asked: string[] = []
  const qdiscs = '[{"kind":"ingress","handle":"ffff:","dev":"vnet7","parent":"ffff:fff1","options":{},"bytes":0,"packets":0,"drops":0,"overlimits":0,"requeues":0,"backlog":0,"qlen":0}]'
  const runner: Runner = {
    capturedAt: new Date('2026-12-07T21:00:00Z'),
    run: async (argv) => {
      const line = argv.join(' ')
      asked.push(line)
      const output = line.includes(' qdisc ') ? qdiscs : listings[line]
      const answer: Partial<CommandCapture> = output === undefined ? {error: `${line}: not recorded in this snapshot`, errorCode: 'not-recorded', exitCode: null} : {output}
      return {kind: 'command', argv, output: '', stderr: '', exitCode: 0, durationMs: 0, timedOut: false, truncated: false, ...answer}
    },
    readFile: async (path) => ({kind: 'file', path, output: '', durationMs: 0, truncated: false, error: 'absent', errorCode: 'not-found'}),
    listDir: async (path) => ({kind: 'dir', path, output: '', durationMs: 0, truncated: false, error: 'absent', errorCode: 'not-found'}),
  }
  return {runner, asked}
}
const JSON_READ = 'tc -j -s filter show dev vnet7 ingress'
const TEXT_READ = 'tc -s filter show dev vnet7 ingress'
const collect = (runner: Runner) => tcProbe.collect({runner, options: {active: false, libvirtUri: 'qemu:///system'}} as never) as Promise<TcFacts>

describe('tc text filter listing', () => {
  it("reads what tc's JSON reads, on real 6.1 listings: u32 keys, flowid, a mirred redirect, hash tables and declarations skipped", () => {
    for (const [file, dev, attach] of [['filter-t1-ingress', 't1', 'ingress'], ['filter-t0-ingress', 't0', 'ingress'], ['filter-t0-parent-1', 't0', '1:']]) {
      const fromText = parseFilterText(data(`${file}.txt`), dev, attach)
      expect(fromText.length).toBeGreaterThan(0)
      expect(withoutStats(fromText)).toEqual(withoutStats(parseFilters(data(`${file}.json`), dev, attach)))
    }
    expect(parseFilterText(data('filter-t1-ingress.txt'), 't1', 'ingress')[0].actions[0].stats).toEqual({bytes: 0, packets: 0, drops: 0, overlimits: 0})
  })

  it("5.10's listing of libvirt's outbound <bandwidth> (u32 with its own police): the JSON is invalid, the text gives rate, burst, mtu and the exceed action", () => {
    expect(() => parseFilters(data('iproute2-5.10/vnet-ingress.json'), 'vnet7', 'ingress')).toThrow(/not valid JSON/)
    expect(parseFilterText(data('iproute2-5.10/vnet-ingress.txt'), 'vnet7', 'ingress')).toEqual([{
      dev: 'vnet7', attach: 'ingress', protocol: 'all', pref: 49152, kind: 'u32', flowid: ':1', keys: [{value: 0, mask: 0, off: 0}],
      actions: [{kind: 'police', control: 'drop', police: {rate: 1_000_000, burst: 1_024_000, mtu: 65_536, exceed: 'drop', slack: 15}}],
    }])
    // Newer iproute2 prints bursts of a gigabyte and more in Gb, rounded as Mb are.
    expect(parseFilterText(data('iproute2-5.10/vnet-ingress.txt').replace('burst 1000Kb', 'burst 2Gb'), 'vnet7', 'ingress')[0].actions[0].police).toMatchObject({burst: 2 * 1024 ** 3, slack: 1023})
  })

  it("5.10's matchall with a police action: the JSON is invalid, the text gives the policer and its counters", () => {
    expect(() => parseFilters(data('iproute2-5.10/matchall-police.json'), 'eth0', 'ingress')).toThrow(/not valid JSON/)
    const [f] = parseFilterText(data('iproute2-5.10/matchall-police.txt'), 'eth0', 'ingress')
    expect(f).toMatchObject({kind: 'matchall', pref: 2, protocol: 'all'})
    expect(f.keys).toBeUndefined()
    expect(f.actions).toEqual([{kind: 'police', control: 'drop', police: {rate: 125_000, burst: 10_240, mtu: 2048, exceed: 'drop', slack: 15}, stats: {bytes: 74880, packets: 52, drops: 3, overlimits: 3}}])
  })

  it('what it cannot read in full is a parse error, never a partial filter', () => {
    const vnet = data('iproute2-5.10/vnet-ingress.txt')
    // Another filter kind, an action it does not read, a gact whose verdict goes elsewhere, a random gact, a variable offset, a packet-rate policer.
    expect(() => parseFilterText('filter protocol ip pref 1 flower chain 0 handle 0x1\n  eth_type ipv4\n', 'e', 'ingress')).toThrow(/flower is not a filter/)
    expect(() => parseFilterText(vnet.replace(/ police .*\n\tref.*\n/, '\taction order 1: skbedit  mark 10 pipe\n'), 'e', 'ingress')).toThrow(/skbedit/)
    expect(() => parseFilterText(vnet.replace(/ police .*\n\tref.*\n/, '\taction order 1: gact action goto chain 5\n'), 'e', 'ingress')).toThrow(/goto chain/)
    expect(() => parseFilterText(vnet.replace(/ police .*\n\tref.*\n/, '\taction order 1: gact action drop\n\t random type netrand pass val 10\n'), 'e', 'ingress')).toThrow(/random type netrand/)
    expect(() => parseFilterText(vnet.replace(/ police .*\n/, '\n    offset 0f00>>6 at 0 \n'), 'e', 'ingress')).toThrow(/offset/)
    expect(() => parseFilterText(vnet.replace('mtu 64Kb', 'mtu 64Kb pkts_rate 1000 pkts_burst 10'), 'e', 'ingress')).toThrow(/packet-rate/)
    expect(() => parseFilterText(vnet.replace('flowid :1', 'flowid :1 link 1:'), 'e', 'ingress')).toThrow(/link 1:/)
    expect(() => parseFilterText('garbage\n' + vnet, 'e', 'ingress')).toThrow(/before any filter/)
  })

  it("the probe asks for the text listing where the JSON is invalid: libvirt's outbound policer on 5.10 is read, not left 'not fully read'", async () => {
    const {runner, asked} = tapHost({[JSON_READ]: data('iproute2-5.10/vnet-ingress.json'), [TEXT_READ]: data('iproute2-5.10/vnet-ingress.txt')})
    const facts = await collect(runner)
    expect(facts.unread).toEqual({})
    expect(facts.filters).toEqual([expect.objectContaining({dev: 'vnet7', kind: 'u32', actions: [expect.objectContaining({kind: 'police'})]})])
    expect(asked).toContain(TEXT_READ)
    // What the guest sends (the tap's ingress) passes the policer: a 1514-byte frame is within its burst and mtu.
    const v = tcVerdict(facts, undefined, 'vnet7', 'ingress', {family: 4, l4proto: 'tcp', src: '192.168.122.50', dst: '203.0.113.10', sport: 40000, dport: 443, size: 1500})
    expect(v).toEqual({verdict: 'pass', detail: 'classified :1 by tc filter ingress pref 49152 u32 (0/0 at 0) on vnet7'})
  })

  it('a recording without the text listing (made before it was asked for) keeps the device unread, saying why; a valid JSON without a policer is not read twice', async () => {
    const old = tapHost({[JSON_READ]: data('iproute2-5.10/vnet-ingress.json')})
    const facts = await collect(old.runner)
    expect(facts.unread.vnet7).toMatch(/^tc -j -s filter show dev vnet7 ingress: .*not valid JSON.*; tc -s filter show dev vnet7 ingress: .*not recorded/)
    expect(facts.filters).toEqual([])
    const modern = tapHost({[JSON_READ]: data('filter-t0-ingress.json').replaceAll('"t0"', '"vnet7"')})
    expect((await collect(modern.runner)).unread).toEqual({})
    expect(modern.asked).not.toContain(TEXT_READ)
  })

  it("tc 6.1's JSON of u32's own policer has no rate, burst or mtu: read from the text; unread where the text is not there, never a filter without its policer", async () => {
    // print_police under -j since 5.14: kind, index, control action, overhead, ref, bind (m_police.c), flat in u32's options.
    const json = JSON.stringify([{protocol: 'all', pref: 49152, kind: 'u32', chain: 0}, {protocol: 'all', pref: 49152, kind: 'u32', chain: 0, options: {fh: '800::800', order: 2048, key_ht: '800', bkt: '0', flowid: ':1', not_in_hw: true, match: {value: '0', mask: '0', offmask: '', off: 0}, kind: 'police', index: 1, control_action: {type: 'drop'}, overhead: 0, ref: 1, bind: 1}}])
    const missing = await collect(tapHost({[JSON_READ]: json}).runner)
    expect(missing.unread.vnet7).toContain("its policer's rate, burst and mtu are not in tc's JSON")
    expect(missing.filters).toEqual([])
    const read = await collect(tapHost({[JSON_READ]: json, [TEXT_READ]: data('iproute2-5.10/vnet-ingress.txt')}).runner)
    expect(read.unread).toEqual({})
    expect(read.filters[0].actions[0].police).toMatchObject({burst: 1_024_000, mtu: 65_536})
  })

  it('a policer whose sizes tc printed rounded: a frame within the rounding of its limit is undecided, one clearly over it fails', () => {
    const facts = (mtu: string): TcFacts => ({
      qdiscs: parseQdiscs('[{"kind":"ingress","handle":"ffff:","dev":"vnet7","parent":"ffff:fff1","options":{}}]'),
      classes: [],
      filters: parseFilterText(data('iproute2-5.10/vnet-ingress.txt').replace('mtu 64Kb', `mtu ${mtu}`), 'vnet7', 'ingress'),
      dropsLater: {},
      unread: {},
    })
    const packet = {family: 4 as const, l4proto: 'udp' as const, src: '192.168.122.50', dst: '192.0.2.1', sport: 5000, dport: 53, size: 1010}
    // 1Kb is 1009 to 1039 bytes: a 1024-byte frame (1010 + 14) may or may not exceed it.
    expect(tcVerdict(facts('1Kb'), undefined, 'vnet7', 'ingress', packet)?.verdict).toBe('indeterminate')
    expect(tcVerdict(facts('1000b'), undefined, 'vnet7', 'ingress', packet)?.verdict).toBe('fail')
    expect(tcVerdict(facts('1Kb'), undefined, 'vnet7', 'ingress', {...packet, size: 1500})?.verdict).toBe('fail')
  })

  it("end to end on the healthy recording with libvirt's outbound policer on its guest's tap, as a 5.10 host lists it: the guest's flows are decided and its limit told; without the text listing (a recording made before), undecided as before", async () => {
    const copyWith = (text: boolean) => {
      const dir = mkdtempSync(join(tmpdir(), 'kvmdoctor-tc510-'))
      cpSync(fixtureDir('healthy'), dir, {recursive: true})
      const manifestPath = join(dir, 'manifest.json')
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {captures: {kind: string; file: string; argv?: string[]; bytes: number}[]}
      const add = (argv: string[], output: string) => {
        const file = `outputs/09${manifest.captures.length}-command-tc-filter.txt`
        writeFileSync(join(dir, file), output)
        manifest.captures.push({kind: 'command', file, bytes: Buffer.byteLength(output), argv, exitCode: 0, timedOut: false, truncated: false, durationMs: 1} as never)
      }
      for (const c of manifest.captures.filter((x) => x.argv?.join(' ').startsWith('tc -j -s qdisc'))) {
        const qdiscs = [...JSON.parse(readFileSync(join(dir, c.file), 'utf8')), {kind: 'ingress', handle: 'ffff:', dev: 'vnet0', parent: 'ffff:fff1', options: {}, bytes: 0, packets: 0, drops: 0, overlimits: 0}]
        writeFileSync(join(dir, c.file), JSON.stringify(qdiscs))
        c.bytes = Buffer.byteLength(JSON.stringify(qdiscs))
      }
      add(['tc', '-j', '-s', 'filter', 'show', 'dev', 'vnet0', 'ingress'], data('iproute2-5.10/vnet-ingress.json'))
      if (text) add(['tc', '-s', 'filter', 'show', 'dev', 'vnet0', 'ingress'], data('iproute2-5.10/vnet-ingress.txt'))
      writeFileSync(manifestPath, JSON.stringify(manifest))
      return dir
    }
    const verdicts = async (text: boolean) => {
      const dir = copyWith(text)
      try {
        return (await fireAll(await factsOfDir(dir))).evaluation.findings
      } finally {
        rmSync(dir, {recursive: true, force: true})
      }
    }
    const read = await verdicts(true)
    expect(read.map((f) => f.id)).not.toContain('guest-flow-indeterminate')
    expect(read.find((f) => f.id === 'guest-bandwidth-limited')?.title).toBe('Guest kdlab-web01 (vnet0) is rate-limited: tc police (filter ingress pref 49152) on vnet0 (from guest): 8 Mbit/s, burst 1024000 bytes')
    const unreadFlow = (await verdicts(false)).find((f) => f.id === 'guest-flow-indeterminate')
    expect(unreadFlow?.summary).toContain('traffic control on vnet0 not fully read: tc -j -s filter show dev vnet0 ingress')
    expect(unreadFlow?.summary).toContain('tc -s filter show dev vnet0 ingress: not recorded in this snapshot')
  })
})
