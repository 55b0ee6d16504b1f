import {describe, expect, it} from 'vitest'
import rule from '../../rules/guest-flow-blocked.js'
import {factsOf, fire, fireAll} from '../helpers.js'

describe('guest-flow-blocked', () => {
  it('fires for a RETURN that keeps packets from the MASQUERADE (lab), with that rule deleted as the fix', async () => {
    const {evaluation} = await fire(rule, await factsOf('nat-return-before-libvirt'))
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].fix).toEqual([expect.stringMatching(/^iptables -t nat -D POSTROUTING -s 192\.168\.122\.0\/24 -j RETURN/)])
  })
  it('fires for forwarding switched off on the bridge alone (lab)', async () => {
    const {evaluation} = await fire(rule, await factsOf('bridge-forwarding-off'))
    expect(evaluation.findings.map((f) => f.fix)).toEqual([['sysctl -w net.ipv4.conf.virbr0.forwarding=1']])
  })
  it("fires for the guest's tap set down and for its NIC's link held down by libvirt (lab)", async () => {
    expect((await fire(rule, await factsOf('tap-admin-down'))).evaluation.findings[0].fix[0]).toMatch(/^ip link set vnet\d+ up$/)
    expect((await fire(rule, await factsOf('domif-link-down'))).evaluation.findings[0].fix[0]).toMatch(/^virsh domif-setlink kdlab-web01 vnet\d+ up$/)
  })
  it('stays silent on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it('stays silent where a catalogue pattern names the element (ip_forward off, MASQUERADE deleted, tap detached)', async () => {
    for (const name of ['ip-forward-off', 'masquerade-removed', 'tap-detached']) {
      const {ids} = await fireAll(await factsOf(name))
      expect(ids, name).not.toContain('guest-flow-blocked')
    }
  })
})
