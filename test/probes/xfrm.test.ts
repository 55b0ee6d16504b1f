/** The IPsec policy listing (`ip xfrm policy list`, text only) and the defaults (`ip xfrm policy getdefault`). */
import {describe, expect, it} from 'vitest'
import {parseXfrmDefaults, parseXfrmPolicies} from '../../probes/xfrm.js'
import {type PolicyRuleFacts, ipRulesProbe} from '../../probes/ip-rules.js'
import {runProbes} from '../../src/core/probe-runner.js'
import type {CommandCapture, Runner} from '../../src/lib/runner.js'
import {OPTIONS, oneCommandHost} from './one-command-host.js'

describe('ip xfrm policy listing', () => {
  it('reads selector, direction, action, priority, mark, if_id and templates (iproute2 6.1 output)', () => {
    const [dns, icmp, xfrmi] = parseXfrmPolicies(
      [
        'src 192.168.122.0/24 dst 0.0.0.0/0 proto udp dport 53 ',
        '\tdir out action block priority 0 ptype main ',
        '\tmark 0x5/0xff ',
        'src 10.0.0.0/8 dst 10.1.0.0/16 proto icmp type 8 code 0 ',
        '\tdir fwd priority 0 ptype main ',
        '\ttmpl src 1.1.1.1 dst 2.2.2.2',
        '\t\tproto esp reqid 0 mode tunnel',
        '\t\tlevel use ',
        'src 10.0.0.0/8 dst 10.2.0.0/16 dev lo ',
        '\tdir in priority 9 ptype main ',
        '\tif_id 0x7',
      ].join('\n'),
    )
    expect(dns).toMatchObject({dir: 'out', action: 'block', proto: 'udp', dport: 53, mark: {value: 5, mask: 255}, text: 'src 192.168.122.0/24 dst 0.0.0.0/0 proto udp dport 53 dir out mark 0x5 mask 0xff'})
    expect(icmp).toMatchObject({dir: 'fwd', action: 'allow', icmpType: 8, icmpCode: 0, templates: [{dst: '2.2.2.2', proto: 'esp', mode: 'tunnel', optional: true}]})
    expect(xfrmi).toMatchObject({dir: 'in', dev: 'lo', priority: 9, ifId: 7})
    expect(parseXfrmPolicies('')).toEqual([])
  })

  it('reads the defaults; a listing without them is an error, not a guess', () => {
    expect(parseXfrmDefaults('Default policies:\n in:  accept\n fwd: block\n out: accept\n')).toEqual({in: 'accept', fwd: 'block', out: 'accept'})
    expect(() => parseXfrmDefaults('Default policies:\n in:  accept\n')).toThrow(/in, fwd and out/)
  })
})

describe('ip xfrm policy getdefault that fails', () => {
  const POLICY = 'src 10.9.0.0/16 dst 10.8.0.0/16 \n\tdir out action block priority 0 ptype main \n'
  /** A host whose rules and policies read, and whose getdefault answers `defaults`. */
  const hostWith = (defaults: Partial<CommandCapture>): Runner => {
    const base = oneCommandHost({})
    return {
      ...base,
      run: async (argv) => {
        const c = await base.run(argv)
        if (argv.join(' ') === 'ip xfrm policy list') return {...c, output: POLICY}
        if (argv.join(' ') === 'ip xfrm policy getdefault') return {...c, exitCode: 2, ...defaults}
        return {...c, output: '[]'}
      },
    }
  }
  const read = async (defaults: Partial<CommandCapture>) => (await runProbes([ipRulesProbe], hostWith(defaults), OPTIONS))['ip-rules'] as {ok: true; data: PolicyRuleFacts; degraded?: string[]}

  it('a host without default policies (an older kernel or iproute2) accepts what no policy matches', async () => {
    for (const stderr of ['RTNETLINK answers: Invalid argument\n', 'Command "getdefault" is unknown, try "ip xfrm policy help".\n']) {
      const r = await read({stderr, error: `ip xfrm policy getdefault: exit 2: ${stderr.trim()}`, errorCode: 'exit-status'})
      expect(r.data.xfrm).toMatchObject({defaults: null})
      expect(r.data.xfrm?.defaultsUnread).toBeUndefined()
    }
  })

  it('any other failure leaves the defaults unknown, not accept; the hops carry it, not every rule of the probe', async () => {
    const r = await read({stderr: 'RTNETLINK answers: Operation not permitted\n', error: 'ip xfrm policy getdefault: exit 2: RTNETLINK answers: Operation not permitted', errorCode: 'exit-status'})
    expect(r.data.xfrm).toMatchObject({defaults: null, defaultsUnread: 'ip xfrm policy getdefault: exit 2: RTNETLINK answers: Operation not permitted'})
    expect(r.degraded).toBeUndefined()
  })
})
