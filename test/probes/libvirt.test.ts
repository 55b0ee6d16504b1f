import {describe, expect, it} from 'vitest'
import {parseDomainXml, parseNetworkXml, parseVirshTable} from '../../probes/libvirt.js'
import {ParseError} from '../../probes/types.js'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {setFlagsFromString} from 'node:v8'
import {runInNewContext} from 'node:vm'
import {ROOT, sample} from '../helpers.js'

describe('parseVirshTable', () => {
  it('reads net-list --all', () => {
    expect(parseVirshTable(sample('virsh-net-list-all.txt'))).toEqual([{name: 'default', state: 'active', autostart: 'no', persistent: 'yes'}])
  })
  it('reads list --all, including two-word states and ids of shut-off domains', () => {
    expect(parseVirshTable(sample('virsh-list-all.txt'))).toEqual([
      {id: '7', name: 'web01', state: 'running'},
      {id: '8', name: 'lan01', state: 'running'},
    ])
    // virsh pads every column to its widest value
    const text = ' Id   Name                 State\n-------------------------------------\n 3    kdlab-web01          running\n -    a-much-longer-name   shut off\n\n'
    expect(parseVirshTable(text).map((r) => `${r.name}|${r.state}`)).toEqual(['kdlab-web01|running', 'a-much-longer-name|shut off'])
  })
  it('reads domiflist', () => {
    expect(parseVirshTable(sample('virsh-domiflist-web01.txt'))).toEqual([{interface: 'vnet6', type: 'network', source: 'default', model: 'virtio', mac: '52:54:00:ae:17:88'}])
  })
  it('an empty list under its header is no rows; text without a header, nothing at all included, is an error', () => {
    expect(parseVirshTable(' Id   Name   State\n--------------------\n\n')).toEqual([])
    expect(() => parseVirshTable('', 'virsh list --all')).toThrow(/^virsh list --all: empty output with no header line$/)
    expect(() => parseVirshTable('error: failed to connect to the hypervisor')).toThrow(ParseError)
  })
  it("a table cut before virsh's closing blank line is an error, not a shorter (or empty) list", () => {
    const whole = sample('virsh-list-all.txt')
    expect(whole.endsWith('\n\n')).toBe(true)
    expect(() => parseVirshTable(whole.slice(0, whole.indexOf('\n', whole.indexOf('----')) + 1), 'virsh list --all')).toThrow(/^virsh list --all: the table does not end with virsh's blank line \(the output was cut\)$/)
    expect(() => parseVirshTable(whole.trimEnd())).toThrow(ParseError)
  })
})

describe('parseNetworkXml', () => {
  it('reads the default NAT network', () => {
    expect(parseNetworkXml(sample('virsh-net-dumpxml-default.xml'))).toEqual({
      name: 'default',
      forwardMode: 'nat',
      bridge: 'virbr0',
      stp: true,
      delay: 0,
      dnsEnabled: true,
      ips: [{family: 'ipv4', address: '192.168.122.1', prefix: 24, dhcpRanges: [{start: '192.168.122.2', end: '192.168.122.254'}], dhcpHosts: []}],
    })
  })
  it('reads isolated networks, forward dev, static hosts, prefix, dns off and MTU', () => {
    const net = parseNetworkXml(`<network><name>lab</name><forward mode='nat' dev='enp9s0'/><bridge name='virbr9' stp='off'/><mtu size='9000'/><dns enable='no'/>
      <ip address='10.9.0.1' prefix='16'><dhcp><range start='10.9.0.10' end='10.9.0.20'/><range start='10.9.1.10' end='10.9.1.20'/><host mac='52:54:00:AA:BB:CC' name='db' ip='10.9.0.5'/></dhcp></ip>
      <ip family='ipv6' address='fd00:9::1' prefix='64'/></network>`)
    expect(net).toMatchObject({forwardMode: 'nat', forwardDev: 'enp9s0', stp: false, mtu: 9000, dnsEnabled: false})
    expect(net.ips[0]).toMatchObject({prefix: 16, dhcpHosts: [{mac: '52:54:00:aa:bb:cc', name: 'db', ip: '10.9.0.5'}]})
    expect(net.ips[0].dhcpRanges).toHaveLength(2)
    expect(net.ips[1].family).toBe('ipv6')
    expect(parseNetworkXml('<network><name>iso</name><bridge name="virbr5"/></network>').forwardMode).toBe('isolated')
  })
  it("reads the <dnsmasq:option> values libvirt adds to the network's dnsmasq, in order (both XML readers)", () => {
    const options = `<dnsmasq:options><dnsmasq:option value='dhcp-option=3'/><dnsmasq:option value="dhcp-option=option:dns-server,192.0.2.53"/></dnsmasq:options>`
    const xml = `<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'><name>opts</name><forward mode='nat'/>${options}</network>`
    expect(parseNetworkXml(xml).dnsmasqOptions).toEqual(['dhcp-option=3', 'dhcp-option=option:dns-server,192.0.2.53'])
    // An entity sends the document to fast-xml-parser: the same values.
    expect(parseNetworkXml(xml.replace('<name>opts</name>', '<name>opts&amp;</name>')).dnsmasqOptions).toEqual(['dhcp-option=3', 'dhcp-option=option:dns-server,192.0.2.53'])
    expect(parseNetworkXml(`<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'><name>one</name><dnsmasq:options><dnsmasq:option value='log-dhcp'/></dnsmasq:options></network>`).dnsmasqOptions).toEqual(['log-dhcp'])
    expect(parseNetworkXml(sample('virsh-net-dumpxml-default.xml')).dnsmasqOptions).toBeUndefined()
  })
  it('rejects broken XML and documents of the wrong kind', () => {
    expect(() => parseNetworkXml('<network><name>x</name>')).toThrow(ParseError)
    expect(() => parseNetworkXml('<domain><name>x</name></domain>')).toThrow(/no <network>/)
  })
})

describe('parseDomainXml', () => {
  it('reads a running NAT guest: MAC, network, bridge, tap, model', () => {
    expect(parseDomainXml(sample('virsh-dumpxml-web01.xml'))).toEqual({
      name: 'web01',
      type: 'qemu',
      id: 7,
      guestAgentChannel: false,
      interfaces: [{type: 'network', mac: '52:54:00:ae:17:88', source: 'default', bridge: 'virbr0', target: 'vnet6', model: 'virtio', linkState: 'up'}],
    })
  })
  it("reads libvirt's live status file (<domstatus>, bridge under <actual>) captured from the lab", () => {
    const text = readFileSync(join(ROOT, 'test/data/domstatus-kdlab-web01.xml'), 'utf8')
    const d = parseDomainXml(text)
    expect(d).toMatchObject({name: 'kdlab-web01', type: 'qemu', id: expect.any(Number), guestAgentChannel: false})
    expect(d.interfaces).toEqual([{type: 'network', mac: '52:54:00:6b:64:01', source: 'default', bridge: 'virbr0', target: expect.stringMatching(/^vnet\d+$/), model: 'virtio', linkState: 'up'}])
  })
  it('keeps none of the status files it read: a MAC or name cut from a document is a copy, not a view that holds all of it', () => {
    const text = readFileSync(join(ROOT, 'test/data/domstatus-kdlab-web01.xml'), 'utf8')
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const heapAfterGc = () => (gc(), gc(), process.memoryUsage().heapUsed)
    const before = heapAfterGc()
    // A thousand guests, each its own 10 KiB document (parsing flattens it) with a long name.
    const domains = Array.from({length: 1000}, (_, n) => parseDomainXml(text.replace('<name>kdlab-web01</name>', `<name>kdlab-guest-number-${n}</name>`)))
    const kept = heapAfterGc() - before
    expect(domains[999]).toMatchObject({name: 'kdlab-guest-number-999', interfaces: [{mac: '52:54:00:6b:64:01'}]})
    // The parsed domains are under a KiB each; the documents, 10 MiB together, are let go.
    expect(kept).toBeLessThan(3 * 1024 * 1024)
  })
  it('reads a status file the same whatever qemu capabilities and aliases it carries, and still refuses one broken inside them', () => {
    const text = readFileSync(join(ROOT, 'test/data/domstatus-kdlab-web01.xml'), 'utf8')
    expect(text).toContain('<qemuCaps>')
    const bare = text.replace(/<qemuCaps>[\s\S]*?<\/qemuCaps>/, '').replace(/<devices>\s*(<device [^>]*\/>\s*)*<\/devices>/, '')
    expect(bare.length).toBeLessThan(text.length / 2)
    expect(parseDomainXml(text)).toEqual(parseDomainXml(bare))
    // Not parsed is not unread: a broken element in the capabilities is still invalid XML.
    expect(() => parseDomainXml(text.replace("<flag name=", "<flag name=<"))).toThrow(/invalid XML/)
  })
  it('reads bridge and direct interfaces, link state and the guest agent channel', () => {
    const d = parseDomainXml(`<domain type='kvm'><name>db</name><devices>
      <interface type='bridge'><mac address='52:54:00:01:02:03'/><source bridge='br0'/><link state='down'/></interface>
      <interface type='direct'><mac address='52:54:00:01:02:04'/><source dev='eno1' mode='bridge'/><target dev='macvtap0'/></interface>
      <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel></devices></domain>`)
    expect(d.interfaces[0]).toMatchObject({type: 'bridge', source: 'br0', bridge: 'br0', linkState: 'down'})
    expect(d.interfaces[1]).toMatchObject({type: 'direct', source: 'eno1', target: 'macvtap0'})
    expect(d.guestAgentChannel).toBe(true)
    expect(d.type).toBe('kvm')
    expect(d.id).toBeUndefined()
  })

  it('reads an Open vSwitch port (virtualport, VLAN tag, bandwidth), on the interface or in a running one\'s <actual>', () => {
    const d = parseDomainXml(`<domain type='kvm' id='3'><name>web</name><devices>
      <interface type='bridge'><mac address='52:54:00:aa:bb:01'/><source bridge='ovsbr0'/>
        <vlan><tag id='42'/></vlan>
        <virtualport type='openvswitch'><parameters interfaceid='09b11c53-8b5c-4eeb-8f00-d84eaa0aaa4f'/></virtualport>
        <bandwidth><inbound average='1000' peak='5000' burst='1024'/><outbound average='128'/></bandwidth>
        <target dev='vnet3'/></interface>
      <interface type='network'><mac address='52:54:00:aa:bb:02'/><source network='ovs-net'/>
        <actual type='bridge'><source bridge='ovsbr1'/><virtualport type='openvswitch'><parameters interfaceid='1a2b3c4d-0000-4000-8000-000000000001'/></virtualport></actual>
        <target dev='vnet4'/></interface></devices></domain>`)
    expect(d.interfaces[0]).toMatchObject({
      source: 'ovsbr0',
      virtualport: {type: 'openvswitch', interfaceId: '09b11c53-8b5c-4eeb-8f00-d84eaa0aaa4f'},
      vlanTags: [42],
      bandwidth: {inbound: {average: 1000, peak: 5000, burst: 1024}, outbound: {average: 128}},
    })
    expect(d.interfaces[1]).toMatchObject({source: 'ovs-net', bridge: 'ovsbr1', virtualport: {type: 'openvswitch', interfaceId: '1a2b3c4d-0000-4000-8000-000000000001'}})
    expect(d.interfaces[1].bandwidth).toBeUndefined()
    expect(parseNetworkXml(`<network><name>ovs-net</name><forward mode='bridge'/><bridge name='ovsbr1'/><virtualport type='openvswitch'/></network>`)).toMatchObject({forwardMode: 'bridge', bridge: 'ovsbr1', virtualport: 'openvswitch'})
  })

  it("reads an interface's own <mtu size='N'/> (the tap's, and a virtio NIC's largest); none, or not a number, is no MTU", () => {
    const d = parseDomainXml(`<domain type='kvm'><name>web</name><devices>
      <interface type='network'><mac address='52:54:00:aa:bb:01'/><source network='default'/><mtu size='1400'/><model type='virtio'/></interface>
      <interface type='network'><mac address='52:54:00:aa:bb:02'/><source network='default'/><mtu size='big'/></interface>
      <interface type='network'><mac address='52:54:00:aa:bb:03'/><source network='default'/></interface></devices></domain>`)
    expect(d.interfaces.map((i) => i.mtu)).toEqual([1400, undefined, undefined])
  })
})
