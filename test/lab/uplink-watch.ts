/**
 * Proof that the lab keeps to itself: tcpdump on the host's uplink(s) for the whole lab run,
 * capturing anything with a lab address or a lab guest's MAC, and DNS (a lab name asked
 * upstream would show there). At the end every captured packet that involves the lab is a leak.
 */
import {type ResultPromise, execa} from 'execa'
import {INET, sh, uplinkDevices} from './lab.js'

/** Every range the lab uses (lab networks, LANs, namespaces, veths), and the lab internet's address. */
// (Lab guests self-assign 169.254.101.x: their MACs' fifth byte is 0x64, see guest/init.)
export const LAB_NETS = ['192.168.122.0/24', '192.168.150.0/24', '192.168.151.0/24', '192.168.152.0/22', '192.168.156.0/24', '198.51.100.0/24', `${INET.server}/32`, '10.77.0.0/24', '10.250.0.0/24', '10.253.0.0/30', '10.254.0.0/16', '169.254.101.0/24']
/** Lab guests' MACs are 52:54:00:6b:64:xx. */
const LAB_MAC = '52:54:00:6b:64:'

const toInt = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0)

export function isLabAddress(ip: string): boolean {
  return LAB_NETS.some((net) => {
    const [base, len] = net.split('/')
    const bits = Number(len)
    const mask = bits === 0 ? 0 : 2 ** 32 - 2 ** (32 - bits)
    return (toInt(ip) & mask) >>> 0 === (toInt(base) & mask) >>> 0
  })
}

/** The lines of `tcpdump -n -e -r` output that involve the lab. */
export function labPackets(lines: string[]): string[] {
  return lines.filter((line) => {
    if (line.includes(LAB_MAC) || /kdlab/i.test(line)) return true
    for (const m of line.matchAll(/(?<![\d.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?![\d])/g)) if (isLabAddress(m[1])) return true
    // A reverse lookup of a lab address asked upstream.
    for (const m of line.matchAll(/(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa/g)) if (isLabAddress(`${m[4]}.${m[3]}.${m[2]}.${m[1]}`)) return true
    return false
  })
}

function filter(): string {
  const mac = '(ether[6:4] = 0x5254006b and ether[10] = 0x64) or (ether[0:4] = 0x5254006b and ether[4] = 0x64)'
  return `${LAB_NETS.map((n) => `net ${n}`).join(' or ')} or ${mac} or port 53`
}

export interface UplinkWatch {
  devices: string[]
  /** Stops the capture; returns the packets that involved the lab (none, if all is well) and how many were captured. */
  stop(): Promise<{leaks: string[]; captured: number}>
}

export async function startUplinkWatch(dir: string): Promise<UplinkWatch> {
  const devices = await uplinkDevices()
  const captures: {file: string; proc: ResultPromise}[] = []
  for (const dev of devices) {
    const file = `${dir}/kdlab-uplink-${dev}.pcap`
    await sh(['rm', '-f', file])
    const proc = execa('tcpdump', ['-i', dev, '-n', '-U', '-s', '256', '-Z', 'root', '-w', file, filter()], {reject: false, stdin: 'ignore', buffer: false, stdout: 'ignore', stderr: 'pipe'})
    // Ready once it says it listens.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tcpdump on ${dev} did not start`)), 10_000)
      proc.stderr?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('listening on')) {
          clearTimeout(timer)
          resolve()
        }
      })
      proc.catch(reject)
    })
    captures.push({file, proc})
  }
  return {
    devices,
    async stop() {
      const lines: string[] = []
      for (const c of captures) {
        c.proc.kill('SIGINT')
        await c.proc
        const out = await sh(['tcpdump', '-n', '-e', '-r', c.file], {reject: false})
        lines.push(...out.stdout.split('\n').filter(Boolean))
      }
      return {leaks: labPackets(lines), captured: lines.length}
    },
  }
}
