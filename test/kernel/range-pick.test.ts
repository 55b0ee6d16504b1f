/**
 * The model's pick of a NAT address range's member (kernelRangePick) against what the kernel did: DNAT of
 * 10.1.0.1:8080 to 10.2.0.2-10.2.0.3 in a namespace, one connection from each client address (two each: the same).
 */
import {expect, it} from 'vitest'
import {kernelRangePick} from './model.js'

it("gives each client the address the kernel gave it (jhash2 of the client, seeded with the rule's address)", () => {
  const observed = {'10.1.0.2': 0, '10.1.0.3': 1, '10.1.0.4': 0, '10.1.0.5': 1, '10.1.0.6': 1, '10.1.0.7': 0, '10.1.0.8': 0}
  for (const [client, member] of Object.entries(observed)) expect(kernelRangePick(client, '10.1.0.1', '10.2.0.2', '10.2.0.3'), client).toBe(member)
})
