/**
 * Listening sockets in the form a sosreport keeps (`netstat -W -neopa`; sos runs `ss -peaonmi`
 * only when the diag modules are loaded), read back into what `ss -H -lunpt` prints: TCP sockets
 * in LISTEN, UDP sockets with no peer, each with its process. netstat does not say which device a
 * socket is bound to (ss's `%virbr0`): that part is left out.
 */
import {ParseError} from './types.js'

const bracketed = (address: string) => {
  const at = address.lastIndexOf(':')
  const host = address.slice(0, at)
  return host.includes(':') ? `[${host}]:${address.slice(at + 1)}` : address
}

export function netstatToSs(text: string): string {
  const out: string[] = []
  for (const [i, line] of text.split('\n').entries()) {
    const cols = line.trim().split(/\s+/)
    const proto = cols[0]
    if (!/^(tcp|udp)6?$/.test(proto)) continue
    if (cols.length < 5 || !cols[3].includes(':')) throw new ParseError(`netstat line ${i + 1}: unexpected ${JSON.stringify(line.slice(0, 80))}`)
    const [local, foreign] = [cols[3], cols[4]]
    const tcp = proto.startsWith('tcp')
    if (tcp && cols[5] !== 'LISTEN') continue
    if (!tcp && !/^(0\.0\.0\.0|::|\*):\*$/.test(foreign)) continue
    const program = cols.find((c) => /^\d+\/\S+$/.test(c))
    const users = program ? ` users:(("${program.slice(program.indexOf('/') + 1)}",pid=${program.slice(0, program.indexOf('/'))}))` : ''
    out.push(`${tcp ? 'tcp' : 'udp'} ${tcp ? 'LISTEN' : 'UNCONN'} ${cols[1]} ${cols[2]} ${bracketed(local)} ${bracketed(foreign)}${users}`)
  }
  return out.join('\n') + (out.length > 0 ? '\n' : '')
}
