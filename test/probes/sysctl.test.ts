/** The sysctl probe on recorded reads: a key read is its value, a key the recording lacks is unread, never 0. */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {linksProbe} from '../../probes/links.js'
import {IP_ADDR} from '../../probes/first-reads.js'
import {type SysctlFacts, sysctlProbe} from '../../probes/sysctl.js'
import {runProbes} from '../../src/core/probe-runner.js'
import {MemoryRunner} from '../../src/core/snapshot.js'
import type {ProbeResult} from '../../probes/types.js'
import {ROOT, factsOf} from '../helpers.js'

const options = {active: false, libvirtUri: 'qemu:///system'}
const sysctlOf = (r: Record<string, ProbeResult>) => (r.sysctl as Extract<ProbeResult<SysctlFacts>, {ok: true}>).data

describe('sysctl: src_valid_mark (whether rp_filter looks the source up with the packet mark)', () => {
  it('is read for conf/all and every routing interface', async () => {
    const addr = readFileSync(join(ROOT, 'test/data/src-valid-mark/addr.json'), 'utf8')
    const file = (path: string, output: string) => ({kind: 'file' as const, path, output, durationMs: 1, truncated: false})
    const runner = new MemoryRunner(
      [
        {kind: 'command', argv: IP_ADDR, output: addr, stderr: '', exitCode: 0, durationMs: 1, timedOut: false, truncated: false},
        file('/proc/sys/net/ipv4/conf/all/src_valid_mark', '1\n'),
        file('/proc/sys/net/ipv4/conf/eth1/src_valid_mark', '0\n'),
      ],
      new Date('2026-12-07T06:30:00Z'),
    )
    const {values} = sysctlOf(await runProbes([linksProbe, sysctlProbe], runner, options))
    expect(values).toMatchObject({'net.ipv4.conf.all.src_valid_mark': 1, 'net.ipv4.conf.eth1.src_valid_mark': 0})
  })

  it('a recording made before the read has no value for it: unread, with the reason', async () => {
    const {values, unreadable} = sysctlOf((await factsOf('healthy')).results)
    expect(values['net.ipv4.conf.all.src_valid_mark']).toBeUndefined()
    expect(unreadable['net.ipv4.conf.all.src_valid_mark']).toMatch(/not recorded/)
  })
})
