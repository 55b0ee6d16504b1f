import {describe, expect, it} from 'vitest'
import {parseDomainXml} from '../../probes/libvirt.js'
import {moduleAvailable, parseModulesBuiltin, parseProcModules} from '../../probes/modules.js'
import {parsePsStarts, parseSystemctlShow} from '../../probes/services.js'
import {ParseError} from '../../probes/types.js'

describe('modules probe parsers', () => {
  it('reads /proc/modules names and modules.builtin paths (compressed ones too), "-" and "_" alike', () => {
    expect(parseProcModules('nf_nat 61440 3 xt_MASQUERADE,nft_chain_nat, Live 0x0000000000000000\nbr_netfilter 32768 0 - Live 0x0\n')).toEqual(['nf_nat', 'br_netfilter'])
    expect(parseModulesBuiltin('kernel/net/netfilter/nf-nat.ko\nkernel/net/bridge/br_netfilter.ko.xz\n')).toEqual(['nf_nat', 'br_netfilter'])
  })
  it('tells absent only when the kernel loads modules and its built-ins are known', () => {
    expect(moduleAvailable({loadable: true, loaded: ['nf_nat'], builtin: []}, 'nf-nat')).toBe(true)
    expect(moduleAvailable({loadable: true, loaded: [], builtin: []}, 'nf_nat')).toBe(false)
    expect(moduleAvailable({loadable: true, loaded: [], builtin: null}, 'nf_nat')).toBeUndefined()
    expect(moduleAvailable({loadable: false, loaded: [], builtin: null}, 'nf_nat')).toBeUndefined()
  })
})

describe('services probe parsers', () => {
  it('takes unit start and reload times from systemctl show (unix and UTC timestamps); inactive units say nothing', () => {
    const events = parseSystemctlShow(
      [
        'Id=libvirtd.service\nActiveState=active\nActiveEnterTimestamp=@1795890000\nExecMainStartTimestamp=@1795890000\nExecReload=',
        'Id=firewalld.service\nActiveState=active\nActiveEnterTimestamp=Sat 2026-11-28 17:00:00 UTC\nExecMainStartTimestamp=\nExecReload={ path=/bin/kill ; argv[]=/bin/kill -HUP $MAINPID ; ignore_errors=no ; start_time=[@1795890100] ; stop_time=[@1795890100] ; pid=9 ; code=exited ; status=0 }',
        'Id=ufw.service\nActiveState=inactive\nActiveEnterTimestamp=@1795000000\nExecMainStartTimestamp=\nExecReload=',
      ].join('\n\n'),
    )
    expect(events.map((e) => `${e.service} ${e.role} ${e.what} ${e.at}`)).toEqual([
      'libvirtd libvirt started 1795890000000',
      `firewalld firewall started ${Date.parse('2026-11-28T17:00:00Z')}`,
      'firewalld firewall reloaded 1795890100000',
    ])
  })
  it('dates daemons by their process age where there is no systemd, and rejects what is not ps output', () => {
    const at = new Date('2026-11-28T18:00:00Z')
    expect(parsePsStarts('  1 99999 /sbin/init\n 812 600 /usr/sbin/virtnetworkd --timeout 120\n', at)).toEqual([{service: 'virtnetworkd', role: 'libvirt', what: 'started', at: at.getTime() - 600_000, source: 'ps etimes (pid 812)'}])
    expect(() => parsePsStarts('garbage line\n', at)).toThrow(ParseError)
  })
})

describe('libvirt probe: macvtap trustGuestRxFilters', () => {
  it('reads the attribute of direct interfaces (absent = not trusted)', () => {
    const xml = (attr: string) => `<domain type='kvm'><name>g</name><devices><interface type='direct'${attr}><mac address='52:54:00:00:00:01'/><source dev='eth0' mode='bridge'/></interface></devices></domain>`
    expect(parseDomainXml(xml(" trustGuestRxFilters='yes'")).interfaces[0]).toMatchObject({type: 'direct', source: 'eth0', trustGuestRxFilters: true})
    expect(parseDomainXml(xml('')).interfaces[0].trustGuestRxFilters).toBe(false)
  })
})
