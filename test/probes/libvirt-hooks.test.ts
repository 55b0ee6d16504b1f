import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {readHookConfig, readHookScript} from '../../probes/libvirt-hooks.js'
import {ROOT} from '../helpers.js'

const data = (f: string) => readFileSync(join(ROOT, 'test/data/libvirt-hooks', f), 'utf8')

describe('libvirt hook scripts, read and never run', () => {
  it("reads the wiki-style script: what it adds on start, under the guest its $1 test names, with its variables filled in", () => {
    const s = readHookScript(data('qemu-wiki-style.sh'), '/etc/libvirt/hooks/qemu', 'qemu')
    // The -D commands (stopped) add nothing.
    expect(s.forwards).toEqual([{proto: 'tcp', port: 8080, hostAddress: '198.51.100.1', target: {addr: '192.168.122.10', port: 80}, object: 'kdlab-web01', at: 'line 18'}])
    expect(s.accepts).toEqual([{proto: 'tcp', addr: '192.168.122.10', port: 80, outDevice: 'virbr0', object: 'kdlab-web01', at: 'line 17'}])
    expect(s.unread).toEqual([])
  })

  it('reads a case on $1, an inline test and -I with a position; lists what it cannot read, ignores listings', () => {
    const s = readHookScript(data('qemu-mixed.sh'), '/etc/libvirt/hooks/qemu', 'qemu')
    expect(s.forwards).toEqual([
      {proto: 'tcp', port: 8443, inDevice: 'eth0', target: {addr: '192.168.122.10', port: 443}, object: 'kdlab-web01', at: 'line 7'},
      {proto: 'udp', port: 2525, target: {addr: '192.168.122.30', port: 25}, object: 'kdlab-mail01', at: 'line 14'},
    ])
    // $DB is computed when the hook runs: not filled in, never guessed.
    expect(s.unread.map((u) => u.at)).toEqual(['line 11', 'line 15'])
    expect(s.unread[1].command).toBe('nft add rule ip nat prerouting tcp dport 9090 dnat to 192.168.122.11')
  })

  it("reads libvirt-hook-qemu's hooks.json (comments allowed; an entry or a list of them; a bare port maps to itself)", () => {
    const s = readHookConfig(data('hooks.json'), '/etc/libvirt/hooks/hooks.json')
    expect(s.forwards).toEqual([
      {proto: 'tcp', port: 1100, target: {addr: '192.168.124.10', port: 3000}, object: 'cloud-admin', at: 'cloud-admin'},
      {proto: 'tcp', port: 443, target: {addr: '192.168.124.10', port: 443}, object: 'cloud-admin', at: 'cloud-admin'},
      {proto: 'udp', port: 1101, hostAddress: '203.0.113.7', target: {addr: '192.168.126.2', port: 53}, object: 'cloud-node1', at: 'cloud-node1[0]'},
    ])
    expect(s.accepts[0]).toEqual({proto: 'tcp', addr: '192.168.124.10', port: 3000, outDevice: 'virbr1', object: 'cloud-admin', at: 'cloud-admin'})
    expect(readHookConfig('{ not json', 'x').unread).toEqual([{at: 'x', command: 'not valid JSON'}])
  })

  it('never reads a command out of hostile text: unbalanced quotes, substitutions, names with spaces', () => {
    const s = readHookScript('if [ "$1" = "a b" ]; then iptables -t nat -A PREROUTING -p tcp --dport 1 -j DNAT --to "1.2.3.4:1; rm -rf /"; fi\niptables -A FORWARD "unterminated\n`id`\n', 'q', 'qemu')
    expect(s.forwards).toEqual([])
    expect(s.unread.length).toBeGreaterThan(0)
  })
})
