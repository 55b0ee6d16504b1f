/**
 * A libvirt network's own <dnsmasq:options> change what its DHCP gives the guests: the router and DNS servers are the
 * network's address only while no option says otherwise. kvmdoctor followed every guest to the host as its gateway
 * and resolver whatever the options said (lab: dnsmasq-option-no-router, the guest had no default route and every
 * flow passed).
 */
import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import {alter, factsOf, fireAll} from '../helpers.js'
import {evaluate} from '../../src/core/engine.js'
import {ALL_RULES} from '../../rules/index.js'
import {healthy, inbound, inboundModel, withForward} from '../inbound.js'

async function withOptions(options: string[]) {
  return alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => {
    l.networks.find((n) => n.name === 'default')!.dnsmasqOptions = options
  })
}
const verdicts = async (options: string[]) => {
  const {evaluation} = await fireAll(await withOptions(options))
  // healthy's guest has no agent channel (info): not what these options change.
  const findings = evaluation.findings.filter((f) => f.id !== 'guest-agent-missing')
  return {ids: findings.map((f) => f.id), findings}
}

describe("a network's dnsmasq options: the router and DNS server its guests get", () => {
  it('no router (dhcp-option=3): the guest, holding a lease, has no default route; its egress fails at that option, no command, a note saying where it lives', async () => {
    const {findings} = await verdicts(['dhcp-option=3'])
    expect(findings.map((f) => [f.id, f.entity.name])).toEqual([['guest-flow-blocked', 'network default: dnsmasq option dhcp-option=3 (no router)']])
    expect(findings[0].fix).toEqual([])
    expect(findings[0].note).toEqual([expect.stringMatching(/^network default: dnsmasq option dhcp-option=3 \(no router\): correct or remove that <dnsmasq:option> \(virsh net-edit default\)/)])
  })
  it('no DNS server (dhcp-option=6): its DNS fails there, the way out does not', async () => {
    const {findings} = await verdicts(['dhcp-option=6'])
    expect(findings.map((f) => [f.id, f.entity.name])).toEqual([['guest-flow-blocked', 'network default: dnsmasq option dhcp-option=6 (no DNS server)']])
    expect(findings[0].evidence.join('\n')).toMatch(/DNS query/)
    expect(findings[0].evidence.join('\n')).not.toMatch(/to the internet/)
  })
  it("another router on the guests' subnet: what it does is decided beyond the host (low, not a pass, not a failure)", async () => {
    const {findings} = await verdicts(['dhcp-option=option:router,192.168.122.254'])
    expect(findings.map((f) => [f.id, f.severity, f.entity.name])).toEqual([['guest-flow-indeterminate', 'low', 'network default: dnsmasq option dhcp-option=option:router,192.168.122.254 (router 192.168.122.254)']])
  })
  it('a router given to some clients only (a tag): which one this guest gets is not known', async () => {
    const {findings} = await verdicts(['dhcp-option=tag:office,3,192.168.122.254'])
    expect(findings.map((f) => f.id)).toEqual(['guest-flow-indeterminate'])
    expect(findings[0].entity.name).toBe('network default: dnsmasq option dhcp-option=tag:office,3,192.168.122.254 (router for some clients)')
    expect(JSON.stringify(findings[0])).toMatch(/give some clients another router \(dhcp-option=tag:office,3,192\.168\.122\.254\): which one kdlab-web01 gets is not known/)
  })
  it('another DNS server: the query is followed there, its answer decided beyond the host', async () => {
    const {findings} = await verdicts(['dhcp-option=option:dns-server,192.0.2.53'])
    expect(findings.map((f) => f.id)).toEqual(['guest-flow-indeterminate'])
    expect(findings[0].entity.name).toBe("resolver: kdlab-web01 asks 192.0.2.53 for names (network default's dnsmasq option dhcp-option=option:dns-server,192.0.2.53 gives it), not network default's resolver: whether a DNS server answers there is decided beyond the host")
    expect(findings[0].evidence).toEqual(['kdlab-web01 dns: DNS query to 192.0.2.53', 'kdlab-web01 dns-reply: DNS answer from 192.0.2.53 back to kdlab-web01'])
  })
  it("must not fire: options that give the network's own address (0.0.0.0 included), or touch neither", async () => {
    for (const options of [['dhcp-option=3,0.0.0.0', 'dhcp-option=6,192.168.122.1'], ['log-dhcp', 'dhcp-option=42,192.0.2.123'], []]) expect((await verdicts(options)).ids).toEqual([])
  })
  it("a published port's replies take the same router: with none given they fail there, one finding for the fault (the option), not one per flow kind", async () => {
    const {facts, web} = await healthy()
    const published = withForward(facts, web)
    const noRouter = alter<LibvirtFacts>(published, 'libvirt', (l) => {
      l.networks.find((n) => n.name === 'default')!.dnsmasqOptions = ['dhcp-option=3']
    })
    const reply = inbound(noRouter).find((f) => f.kind === 'inbound-reply')!
    expect([reply.verdict, reply.decidedBy?.name]).toEqual(['fail', 'default route (DHCP)'])
    // As recorded, the reply passes.
    expect(inbound(published).find((f) => f.kind === 'inbound-reply')!.verdict).toBe('pass')
    const findings = (await evaluate(inboundModel(noRouter), ALL_RULES)).findings.filter((f) => f.severity !== 'info')
    expect(findings.filter((f) => !f.explainedBy).map((f) => [f.id, f.entity.name])).toEqual([['guest-flow-blocked', 'network default: dnsmasq option dhcp-option=3 (no router)']])
    expect(findings.find((f) => f.id === 'port-forward-blocked')?.explainedBy).toMatch(/^guest-flow-blocked@/)
  })
  it("dhcp-ignore=tag:!known refuses web01, which no <host> entry names: its DHCP fails at the option (the recorded lease keeps its other flows); with a host entry for its MAC, nothing", async () => {
    const {findings} = await verdicts(['dhcp-ignore=tag:!known'])
    expect(findings.map((f) => [f.id, f.entity.name])).toEqual([['guest-flow-blocked', 'network default: dnsmasq option dhcp-ignore=tag:!known (ignores clients without a host entry)']])
    const known = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => {
      const net = l.networks.find((n) => n.name === 'default')!
      net.dnsmasqOptions = ['dhcp-ignore=tag:!known']
      net.ips[0].dhcpHosts.push({mac: '52:54:00:6b:64:01', ip: '192.168.122.190'})
    })
    expect((await fireAll(known)).ids.filter((id) => id !== 'guest-agent-missing')).toEqual([])
  })
  it('a range the options add counts in the pool: the range that is full in the XML is not exhausted (dhcp-range-exhausted recording)', async () => {
    const full = await factsOf('dhcp-range-exhausted')
    expect((await fireAll(full)).ids).toContain('dhcp-range-exhausted')
    const wider = alter<LibvirtFacts>(full, 'libvirt', (l) => {
      l.networks.find((n) => n.name === 'kdlab-tiny')!.dnsmasqOptions = ['dhcp-range=192.168.150.100,192.168.150.199']
    })
    expect((await fireAll(wider)).ids).not.toContain('dhcp-range-exhausted')
  })
})

