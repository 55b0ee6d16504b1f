/**
 * Open vSwitch and traffic control from a sosreport. sos's openvswitch plugin keeps `ovs-vsctl -t 5 show`, `list
 * bridge`, `list interface` (text) and each bridge's `ovs-ofctl dump-flows`, never `list Port` or `list Controller`;
 * its networking plugin keeps `tc -s qdisc show` once and per device the root qdisc's and the ingress hook's filters
 * (text), never a class. Real listings: test/data/sos/ovs/generate.sh and test/data/sos/tc/generate.sh made them.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {type OvsBridge, ovsBridgesFromShow, parseOvsTables} from '../../probes/ovs.js'
import {ovsdbListToJson, parseOvsShow} from '../../probes/ovs-text.js'
import {parseQdiscs} from '../../probes/tc.js'
import {qdiscTextToJson} from '../../probes/tc-text.js'
import {diagnose} from '../../src/core/diagnose.js'
import {openSource} from '../../src/core/source.js'
import {type SosCommand, type SosEdit, editedSos} from './sos-edit.js'

const ROOT = join(import.meta.dirname, '../..')
const ovs = (f: string) => readFileSync(join(ROOT, 'test/data/sos/ovs', f), 'utf8')
const tc = (f: string) => readFileSync(join(ROOT, 'test/data/sos/tc', f), 'utf8')
const BASE = join(ROOT, 'fixtures/sos-masquerade-removed')

const BRIDGE_COLUMNS = ['_uuid', 'name', 'ports', 'fail_mode', 'controller', 'datapath_type']
const IFACE_COLUMNS = ['_uuid', 'name', 'type', 'ofport', 'error', 'link_state', 'admin_state', 'external_ids', 'mac_in_use']
const byName = (bridges: OvsBridge[]) => [...bridges].sort((a, b) => a.name.localeCompare(b.name)).map((b) => ({...b, controllers: [...b.controllers].sort((x, y) => x.target.localeCompare(y.target))}))

async function diagnosis(dir: string) {
  const source = await openSource({from: dir, timeoutMs: 1000})
  const d = await diagnose({runner: source.runner, options: source.recordedOptions!, version: 'test'}).finally(() => source.close())
  return {...d, notCollected: source.describe!().notCollected}
}

const findings = <F extends {id: string}>(d: {findings: F[]}, id: string) => d.findings.filter((f) => f.id === id)
const notChecked = (d: {notChecked: {ruleId: string; reason: string}[]}, id: string) => d.notChecked.filter((n) => n.ruleId === id)

describe('Open vSwitch text listings read back', () => {
  it('`ovs-vsctl list bridge|interface` as text give the rows of their JSON', () => {
    const fromText = parseOvsTables({
      bridge: JSON.stringify(ovsdbListToJson(ovs('varied-list-bridge'), BRIDGE_COLUMNS)),
      iface: JSON.stringify(ovsdbListToJson(ovs('varied-list-interface'), IFACE_COLUMNS)),
      port: ovs('varied-port.json'),
      controller: ovs('varied-controller.json'),
    })
    const fromJson = parseOvsTables({bridge: ovs('varied-bridge.json'), iface: ovs('varied-interface.json'), port: ovs('varied-port.json'), controller: ovs('varied-controller.json')})
    expect(fromText).toEqual(fromJson)
    expect(fromText.flatMap((b) => b.ports.flatMap((p) => p.interfaces)).find((i) => i.name === 'vnet27')?.externalIds).toMatchObject({'iface-id': 'ea6c3610-b8a9-4216-bfa0-f322ee267f1f', 'attached-mac': '52:54:00:6b:64:75'})
  })

  it('`ovs-vsctl show` joined by name with `list interface` gives the listings\' bridges, a vlan_mode unknown, a controller connected or not', () => {
    const fromShow = ovsBridgesFromShow(parseOvsShow(ovs('varied-show')), JSON.stringify(ovsdbListToJson(ovs('varied-list-interface'), IFACE_COLUMNS)))
    const fromJson = parseOvsTables({bridge: ovs('varied-bridge.json'), iface: ovs('varied-interface.json'), port: ovs('varied-port.json'), controller: ovs('varied-controller.json')})
    // What show does not print: a port's vlan_mode (undefined: not read, never "unset"), a controller's state.
    const expected = fromJson.map((b) => ({...b, ports: b.ports.map((p) => ({...p, vlanMode: undefined})), controllers: b.controllers.map((c) => ({...c, state: null, lastError: null}))}))
    expect(byName(fromShow)).toEqual(byName(expected))
    const sec = fromShow.find((b) => b.name === 'br-sec')!
    expect(sec.controllers.map((c) => [c.target, c.connected]).sort()).toEqual([['tcp:127.0.0.1:6653', false], ['tcp:192.0.2.9:6653', true]])
    expect(sec.ports.find((p) => p.name === 'uplink0')).toMatchObject({tag: 5, trunks: [10, 20], vlanMode: undefined})
    expect(sec.ports.find((p) => p.name === 'tun port')?.interfaces[0]).toMatchObject({type: 'vxlan', ofport: 7})
  })
})

/** sos-masquerade-removed with Open vSwitch beside it: the lab's kdlab-ovs0 and its guest kdlab-ovs05 on vnet27 (VLAN 10). */
function ovsSos(change: {show?: (t: string) => string; flows?: (t: string) => string; commands?: SosCommand[]; files?: Record<string, string>} = {}): string {
  const edit: SosEdit = {
    commands: [
      {plugin: 'networking', exec: 'tc -s qdisc show', output: ovs('tc_-s_qdisc_show')},
      {plugin: 'openvswitch', exec: 'ovs-vsctl -t 5 show', output: (change.show ?? ((t) => t))(ovs('ovs-vsctl_-t_5_show'))},
      {plugin: 'openvswitch', exec: 'ovs-vsctl -t 5 list bridge', output: ovs('ovs-vsctl_-t_5_list_bridge')},
      {plugin: 'openvswitch', exec: 'ovs-vsctl -t 5 list interface', output: ovs('ovs-vsctl_-t_5_list_interface')},
      {plugin: 'openvswitch', exec: 'ovs-ofctl dump-flows kdlab-ovs0', output: (change.flows ?? ((t) => t))(ovs('ovs-ofctl_dump-flows_kdlab-ovs0'))},
      ...(change.commands ?? []),
    ],
    files: {'run/libvirt/qemu/kdlab-ovs05.xml': ovs('kdlab-ovs05.xml'), 'run/openvswitch/ovsdb-server.pid': '1185\n', ...change.files},
    edit: {
      'sos_commands/virsh/virsh_-r_list_--all': (t) => t.replace(/\n*$/, '\n 27   kdlab-ovs05   running\n\n'),
      'sos_commands/networking/ip_-d_address': (t) => t + ovs('ip_-d_address.ovs-links'),
    },
  }
  return editedSos(BASE, edit)
}

const DROP_FLOW = / cookie=[^\n]*priority=200,ip,in_port=2 actions=drop\n/

describe('Open vSwitch from a sosreport', () => {
  it('reads the bridges, ports (from show) and flows, judges a drop flow, and says what show leaves unknown', async () => {
    const d = await diagnosis(ovsSos())
    expect(d.facts.ovs).toMatchObject({ok: true, data: {installed: true, running: true, showOnly: expect.stringContaining('vlan_mode')}})
    const bridge = (d.facts.ovs as {data: {bridges: OvsBridge[]}}).data.bridges[0]
    expect(bridge.ports.map((p) => [p.name, p.tag, p.interfaces[0].ofport])).toEqual([['kdlab-lanp', 10, 1], ['kdlab-ovs0', 10, 65534], ['vnet27', 10, 2]])
    expect(findings(d, 'ovs-flow-drop').map((f) => f.entity.name)).toEqual(['ovs-ofctl dump-flows kdlab-ovs0: table=0, priority=200,ip,in_port=2 actions=drop'])
    for (const id of ['ovs-port-missing', 'ovs-interface-error', 'ovs-vlan-mismatch', 'ovs-secure-no-controller', 'ovs-flow-drop']) expect(notChecked(d, id), id).toEqual([])
    const notes = Object.fromEntries(d.notCollected.map((n) => [n.input.replace(/ovs-vsctl .* list /, 'list '), n.reason]))
    expect(notes['list Port']).toMatch(/sos lists no Port table: ports are read from `ovs-vsctl show`, which does not print a port's vlan_mode/)
    expect(notes['list Controller']).toMatch(/not their state, last error or role/)
  })

  it('a bridge that speaks only OpenFlow 1.3: its plain dump failed when sos ran (what ovs-ofctl said is in the output), its `-O OpenFlow13` dump is read', async () => {
    const refused = readFileSync(join(ROOT, 'test/data/ovs/flows-br-sec-of10.stderr'), 'utf8')
    const of13 = ovs('ovs-ofctl_dump-flows_kdlab-ovs0').replace('NXST_FLOW reply (xid=0x4):', 'OFPST_FLOW reply (OF1.3) (xid=0x2):').replaceAll(/idle_age=\d+, /g, '')
    const dir = editedSos(ovsSos(), {commands: [{plugin: 'openvswitch', exec: 'ovs-ofctl dump-flows kdlab-ovs0', output: refused, returnCode: 1}, {plugin: 'openvswitch', exec: 'ovs-ofctl -O OpenFlow13 dump-flows kdlab-ovs0', output: of13}]})
    const d = await diagnosis(dir)
    expect((d.facts.ovs as {data: {bridges: OvsBridge[]}}).data.bridges[0].flows?.map((f) => f.text)).toEqual([expect.stringContaining('priority=200,ip,in_port=2 actions=drop'), expect.stringContaining('priority=0 actions=NORMAL')])
    expect(findings(d, 'ovs-flow-drop')).toHaveLength(1)
  })

  it('a flow that drops nothing: ovs-flow-drop checked and silent', async () => {
    const d = await diagnosis(ovsSos({flows: (t) => t.replace(DROP_FLOW, '\n')}))
    expect(findings(d, 'ovs-flow-drop')).toEqual([])
    expect(notChecked(d, 'ovs-flow-drop')).toEqual([])
  })

  it('a guest tap show does not list on its bridge: ovs-port-missing fires; listed, it does not', async () => {
    const d = await diagnosis(ovsSos({show: (t) => t.replace(/ {8}Port vnet27\n {12}tag: 10\n {12}Interface vnet27\n/, '')}))
    expect(findings(d, 'ovs-port-missing').map((f) => f.entity.name)).toEqual(['kdlab-ovs05/vnet27'])
    expect(findings(await diagnosis(ovsSos()), 'ovs-port-missing')).toEqual([])
  })

  it("Open vSwitch installed and not running when sos ran (ovs-vsctl's error in its output): ovs-port-missing says so", async () => {
    const failed = 'ovs-vsctl: unix:/var/run/openvswitch/db.sock: database connection failed (No such file or directory)\n'
    const dir = editedSos(BASE, {
      commands: ['ovs-vsctl -t 5 show', 'ovs-vsctl -t 5 list bridge', 'ovs-vsctl -t 5 list interface'].map((exec) => ({plugin: 'openvswitch', exec, output: failed, returnCode: 1})),
      files: {'run/libvirt/qemu/kdlab-ovs05.xml': ovs('kdlab-ovs05.xml')},
      edit: {'sos_commands/virsh/virsh_-r_list_--all': (t) => t.replace(/\n*$/, '\n 27   kdlab-ovs05   running\n\n')},
    })
    const d = await diagnosis(dir)
    expect(d.facts.ovs).toMatchObject({ok: true, data: {installed: true, running: false, reason: expect.stringContaining('database connection failed')}})
    expect(findings(d, 'ovs-port-missing').map((f) => f.title)).toEqual([expect.stringContaining('tap vnet27 is not a port of Open vSwitch bridge kdlab-ovs0')])
  })

  it('fail_mode secure: a controller show does not print connected fires ovs-secure-no-controller; `is_connected: true` does not', async () => {
    const secure = (connected: boolean) => (t: string) => t.replace('    Bridge kdlab-ovs0\n', `    Bridge kdlab-ovs0\n        Controller "tcp:127.0.0.1:6653"\n${connected ? '            is_connected: true\n' : ''}        fail_mode: secure\n`)
    const noFlows = () => 'NXST_FLOW reply (xid=0x4):\n'
    const down = await diagnosis(ovsSos({show: secure(false), flows: noFlows}))
    expect(findings(down, 'ovs-secure-no-controller').map((f) => f.entity.name)).toEqual(['kdlab-ovs0'])
    const up = await diagnosis(ovsSos({show: secure(true), flows: noFlows}))
    expect(findings(up, 'ovs-secure-no-controller')).toEqual([])
    expect(notChecked(up, 'ovs-secure-no-controller')).toEqual([])
  })

  it("VLANs: a tag libvirt does not name fires ovs-vlan-mismatch; whether an uplink carries the guest's VLAN, when its vlan_mode decides, is not checked", async () => {
    const tagged = (guest: number, uplink: number) => (t: string) => t.replace(/(Port vnet27\n {12}tag: )10/, `$1${guest}`).replace(/(Port kdlab-lanp\n {12}tag: )10/, `$1${uplink}`)
    const wrong = await diagnosis(ovsSos({show: tagged(20, 10)}))
    expect(findings(wrong, 'ovs-vlan-mismatch').map((f) => f.title)).toEqual([expect.stringContaining('is in VLAN 20, libvirt names VLAN 10')])
    // An uplink with a tag and no trunks is an access port of that VLAN, or a native port carrying every VLAN: show does not say which.
    const undecided = await diagnosis(ovsSos({show: tagged(10, 30)}))
    expect(findings(undecided, 'ovs-vlan-mismatch')).toEqual([])
    expect(notChecked(undecided, 'ovs-vlan-mismatch').map((n) => n.reason)).toEqual([expect.stringMatching(/kdlab-lanp: tag 30 \(vlan_mode not read: access or native-tagged or native-untagged\)\) carry VLAN 10 depends on their vlan_mode, not read/)])
    // Its own VLAN on the uplink: every mode carries it.
    const same = await diagnosis(ovsSos())
    expect(findings(same, 'ovs-vlan-mismatch')).toEqual([])
    expect(notChecked(same, 'ovs-vlan-mismatch')).toEqual([])
  })

  it("an interface `list interface` says OVS could not open: ovs-interface-error fires", async () => {
    const dir = ovsSos({})
    const broken = editedSos(dir, {edit: {'sos_commands/openvswitch/ovs-vsctl_-t_5_list_interface': (t) => t.replace(/(error +: )\[\](\n(?:.*\n)*?name +: vnet27\n(?:.*\n)*?ofport +: )2/, '$1"could not open network device vnet27 (No such device)"$2-1')}})
    const d = await diagnosis(broken)
    expect(findings(d, 'ovs-interface-error').map((f) => f.title)).toEqual([expect.stringContaining('vnet27')])
  })
})

describe('traffic control from a sosreport', () => {
  it('`tc -s qdisc show` as text gives the qdiscs of its JSON: kinds, places, counters and the options the datapath reads', () => {
    const fromText = parseQdiscs(JSON.stringify(qdiscTextToJson(tc('tc_-s_qdisc_show'))))
    const fromJson = parseQdiscs(tc('tc-j-s-qdisc-show.json'))
    expect(fromText.map(({options: _o, ...q}) => q)).toEqual(fromJson.map(({options: _o, ...q}) => q))
    fromText.forEach((q, i) => expect(fromJson[i].options, `${q.dev} ${q.kind}`).toMatchObject(q.options))
    expect(fromText.map((q) => [q.dev, q.kind, q.options])).toEqual(expect.arrayContaining([['v1', 'pfifo', {limit: 0}], ['t0', 'bfifo', {limit: 1000}], ['v4', 'tbf', {rate: 125000, burst: 1600}], ['v0', 'htb', {default: '0x1'}]]))
  })

  /** sos-masquerade-removed's guest kdlab-web01 on vnet11, with tc's listings of that tap as sos keeps them. */
  const tcSos = (tap: {qdiscs: string; ingress?: string; root?: string}, version = '4.5.6') =>
    editedSos(BASE, {
      version,
      commands: [
        {plugin: 'networking', exec: 'tc -s qdisc show', output: ovs('tc_-s_qdisc_show').replace(/qdisc noqueue 0: dev vnet11 root refcnt 2 \n(?: .*\n)+?(?=qdisc)/, tap.qdiscs)},
        ...(tap.ingress !== undefined ? [{plugin: 'networking', exec: 'tc -s filter show dev vnet11 ingress', output: tap.ingress}] : []),
        ...(tap.root !== undefined ? [{plugin: 'networking', exec: 'tc -s filter show dev vnet11', output: tap.root}] : []),
      ],
    })
  const qdiscOf = (file: string, from: string) => tc(file).split(/(?=^qdisc )/m).filter((b) => b.includes(` dev ${from} `)).join('').replaceAll(` dev ${from} `, ' dev vnet11 ')

  it("a tap's ingress filter read from sos's text: a redirect fails the guest's flows at that hop; a policer names the guest's limit", async () => {
    const redirect = await diagnosis(tcSos({qdiscs: qdiscOf('tc_-s_qdisc_show', 'v0').replace(/qdisc htb[^]*?(?=qdisc ingress)/, 'qdisc noqueue 0: dev vnet11 root refcnt 2 \n Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0) \n backlog 0b 0p requeues 0\n').replace(/qdisc pfifo 2:[^]*?(?=qdisc ingress)/, ''), ingress: tc('tc_-s_filter_show_dev_v0_ingress')}))
    expect(redirect.facts.tc).toMatchObject({ok: true, data: {unread: {}}})
    const dns = redirect.flows.filter((f) => f.hops.some((h) => h.name === 'tc ingress vnet11' && h.verdict === 'fail'))
    expect(dns.map((f) => f.hops.find((h) => h.name === 'tc ingress vnet11')!.detail)).toEqual(expect.arrayContaining([expect.stringContaining('redirected to v4')]))
    // The same tap without a filter: the hop is no longer undecided or failed.
    const plain = await diagnosis(tcSos({qdiscs: 'qdisc noqueue 0: dev vnet11 root refcnt 2 \n Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0) \n backlog 0b 0p requeues 0\n'}))
    expect(plain.flows.flatMap((f) => f.hops).filter((h) => h.name.startsWith('tc ') && h.verdict !== 'pass')).toEqual([])
    expect(findings(plain, 'guest-bandwidth-limited')).toEqual([])
    // libvirt's outbound <bandwidth> as iproute2 5.10 prints it: a u32 policer on the tap's ingress.
    const policed = await diagnosis(tcSos({qdiscs: 'qdisc noqueue 0: dev vnet11 root refcnt 2 \n Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0) \n backlog 0b 0p requeues 0\nqdisc ingress ffff: dev vnet11 parent ffff:fff1 ---------------- \n Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0) \n backlog 0b 0p requeues 0\n', ingress: readFileSync(join(ROOT, 'test/data/tc/iproute2-5.10/vnet-ingress.txt'), 'utf8')}))
    expect(findings(policed, 'guest-bandwidth-limited').map((f) => f.title)).toEqual([expect.stringContaining('8 Mbit/s')])
  })

  it('a tbf on the tap names the limit; what sos lacks (classes, clsact egress, a second read) stays unknown, with why', async () => {
    const d = await diagnosis(tcSos({qdiscs: qdiscOf('tc_-s_qdisc_show', 'v4')}))
    expect(findings(d, 'guest-bandwidth-limited').map((f) => f.title)).toEqual([expect.stringContaining('1 Mbit/s')])
    // One read of the counters: whether they grow is not known, never "not growing".
    expect(notChecked(d, 'tc-policer-drops').map((n) => n.reason)).toEqual([expect.stringContaining('sos lists the qdiscs once')])
    const htb = await diagnosis(tcSos({qdiscs: qdiscOf('tc_-s_qdisc_show', 'v0'), root: tc('tc_-s_filter_show_dev_v0'), ingress: tc('tc_-s_filter_show_dev_v0_ingress')}))
    expect((htb.facts.tc as {data: {unread: Record<string, string>}}).data.unread.vnet11).toMatch(/sos lists no tc classes/)
    expect(htb.notCollected.map((n) => n.input)).toEqual(expect.arrayContaining(['tc -s class show dev vnet11', 'tc -j -s qdisc list']))
    // sos before 4.2 lists no ingress filters: the hook is unread, and said so.
    const old = await diagnosis(tcSos({qdiscs: qdiscOf('tc_-s_qdisc_show', 'v0'), ingress: tc('tc_-s_filter_show_dev_v0_ingress')}, '4.0'))
    expect((old.facts.tc as {data: {unread: Record<string, string>}}).data.unread.vnet11).toMatch(/sos 4.0 lists no ingress tc filters \(sos 4.2 and later do\)/)
    const clsact = await diagnosis(tcSos({qdiscs: qdiscOf('tc_-s_qdisc_show', 'v1'), ingress: tc('tc_-s_filter_show_dev_v1_ingress')}))
    expect((clsact.facts.tc as {data: {unread: Record<string, string>}}).data.unread.vnet11).toMatch(/sos lists no clsact egress filters/)
  })
})
