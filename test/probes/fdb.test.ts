import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {fdbProbe, parseBridgeFdb} from '../../probes/fdb.js'
import {ParseError} from '../../probes/types.js'
import {runProbes} from '../../src/core/probe-runner.js'
import {OPTIONS, oneCommandHost} from './one-command-host.js'

/** iproute2 6.1's `bridge -j fdb show` of a namespace with one entry of each kind (test/data/sos/iproute/generate.sh). */
const REAL = readFileSync(join(import.meta.dirname, '../data/sos/iproute/bridge-j-fdb-show.json'), 'utf8')

const host = oneCommandHost
const options = OPTIONS

describe('bridge -j fdb show', () => {
  it("keeps the bridges' own entries (master) with their state, sticky, extern_learn; a device's self entries are left out", () => {
    const entries = parseBridgeFdb(REAL)
    // 34 entries printed, 26 of them self (multicast filters of every device); the 8 kept include each port's and the bridge's own MAC.
    expect(JSON.parse(REAL)).toHaveLength(34)
    expect(entries).toHaveLength(8)
    expect(entries.every((e) => e.bridge === 'virbr9')).toBe(true)
    const of = (mac: string) => entries.filter((e) => e.mac === mac)
    expect(of('52:54:00:6b:64:01')).toEqual([{mac: '52:54:00:6b:64:01', dev: 'vnet9', bridge: 'virbr9', state: 'static'}])
    expect(of('52:54:00:6b:64:02')).toEqual([{mac: '52:54:00:6b:64:02', dev: 'vnet9', bridge: 'virbr9', state: 'static', sticky: true}])
    // `bridge fdb add MAC dev BRIDGE self local` is listed as the bridge's own local entry.
    expect(of('52:54:00:6b:64:03')).toEqual([{mac: '52:54:00:6b:64:03', dev: 'virbr9', bridge: 'virbr9', state: 'permanent'}])
    expect(of('52:54:00:6b:64:04')).toEqual([{mac: '52:54:00:6b:64:04', dev: 'vnet10', bridge: 'virbr9', state: 'permanent'}])
    // An entry learned (here externally) prints an empty state.
    expect(of('52:54:00:6b:64:06')).toEqual([{mac: '52:54:00:6b:64:06', dev: 'vnet9', bridge: 'virbr9', state: 'dynamic', externLearn: true}])
    expect(entries.some((e) => e.mac.startsWith('33:33:') || e.mac.startsWith('01:00:5e:'))).toBe(false)
  })

  it("reads the bridge's locked entries (a MAC seen on a locked port, not authorized)", () => {
    expect(parseBridgeFdb('[{"mac":"52:54:00:aa:00:02","ifname":"vnet0","flags":["locked"],"master":"br0","state":""}]')).toEqual([{mac: '52:54:00:aa:00:02', dev: 'vnet0', bridge: 'br0', state: 'dynamic', locked: true}])
  })

  it('reads a VLAN and upper-case MACs; refuses what is not its listing', () => {
    expect(parseBridgeFdb('[{"mac":"52:54:00:AA:00:01","ifname":"vnet0","vlan":10,"flags":["offload"],"master":"br0","state":"stale"}]')).toEqual([{mac: '52:54:00:aa:00:01', dev: 'vnet0', bridge: 'br0', state: 'dynamic', vlan: 10}])
    expect(() => parseBridgeFdb('{"mac":"x"}')).toThrow(ParseError)
    expect(() => parseBridgeFdb('[{"ifname":"vnet0"}]')).toThrow(ParseError)
  })

  it('absent (a recording made before the probe, no bridge tool) is no fdb known, not a failure; a failed or cut read is unavailable', async () => {
    const notRecorded = await runProbes([fdbProbe], host({exitCode: null, error: 'bridge -j fdb show: not recorded in this snapshot', errorCode: 'not-recorded'}), options)
    expect(notRecorded.fdb).toMatchObject({ok: true, data: {entries: [], notRead: 'bridge -j fdb show: not recorded in this snapshot'}})
    expect(notRecorded.fdb).not.toHaveProperty('degraded')
    const failed = await runProbes([fdbProbe], host({exitCode: 1, error: 'bridge: exit 1: RTNETLINK answers: Operation not permitted', errorCode: 'exit-status'}), options)
    expect(failed.fdb).toMatchObject({ok: false, error: 'bridge: exit 1: RTNETLINK answers: Operation not permitted'})
    const cut = await runProbes([fdbProbe], host({output: '[{"mac":', truncated: true, error: 'bridge -j fdb show: output larger than 32 MiB', errorCode: 'too-large'}), options)
    expect(cut.fdb.ok).toBe(false)
    const read = await runProbes([fdbProbe], host({output: REAL}), options)
    expect(read.fdb.ok && (read.fdb.data as {entries: unknown[]}).entries).toHaveLength(8)
  })
})
