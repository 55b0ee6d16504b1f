import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text, virshQuoted} from './kit.js'

/** A rate in bits per second, as people read it. */
const rate = (bits: number) => (bits >= 1e9 ? `${+(bits / 1e9).toFixed(2)} Gbit/s` : bits >= 1e6 ? `${+(bits / 1e6).toFixed(2)} Mbit/s` : bits >= 1e3 ? `${+(bits / 1e3).toFixed(2)} kbit/s` : `${bits} bit/s`)
/** libvirt's <bandwidth> average and peak are kilobytes per second (tc's kbps: 1000 bytes), burst kilobytes (1024 bytes). */
const KBPS = 8000

interface Limits {
  limits: string[]
}

export default defineRule<InterfaceView, Limits>({
  id: 'guest-bandwidth-limited',
  kind: 'interface',
  severity: 'info',
  needs: [probes.libvirt],
  appliesTo: (i) => i.running,
  derive: (i) => ({
    limits: [
      ...([['inbound', 'what it receives', i.bandwidthInbound], ['outbound', 'what it sends', i.bandwidthOutbound]] as const).flatMap(([dir, what, b]) =>
        b && b.average !== undefined ? [`libvirt <bandwidth> ${dir} (${what}): average ${rate(b.average * KBPS)}${b.peak !== undefined ? `, peak ${rate(b.peak * KBPS)}` : ''}${b.burst !== undefined ? `, burst ${b.burst} KiB` : ''}`] : [],
      ),
      ...i.tapShaping.map((s) => `tc ${s.what} on ${i.target} (${s.direction}): ${rate(s.rate)}${s.burst !== null ? `, burst ${s.burst} bytes` : ''}`),
    ],
  }),
  conditions: (c) => c.all(c.nonEmpty('limits')),
  title: (i) => text`Guest ${i.domain} (${i.target ?? i.mac}) is rate-limited: ${i.limits[0]}`,
  summary: (i) => text`${i.domain}'s interface ${i.mac} is shaped: ${i.limits.join('; ')}. Transfers faster than this are queued or dropped by design, which is the usual answer to "the guest is slow".`,
  evidence: (i) => i.limits.map((l) => line`${l}`),
  fix: () => [],
  check: (i) => [cmd`virsh domiftune ${i.domain} ${i.target ?? i.mac}`, i.target !== null ? cmd`tc -s class show dev ${i.target}` : undefined],
  // A limit libvirt did not set is not changed through libvirt.
  note: (i) => [
    i.bandwidthInbound || i.bandwidthOutbound
      ? line`change it with virsh domiftune ${virshQuoted(['domiftune'], i.domain)} ${virshQuoted(['domiftune', i.domain], i.target ?? i.mac)} --inbound AVERAGE[,PEAK,BURST] --outbound AVERAGE --live --config (0 removes a limit)`
      : line`${i.domain} has no libvirt <bandwidth>: these limits were set with tc (by hand or by another tool), not by libvirt; change them where they are made`,
  ],
})
