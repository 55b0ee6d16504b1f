// One process per network namespace of the differential test (started with `ip netns exec NS node agent.mjs`):
// servers that report what arrives (TCP 80 and 8080, UDP 53 and 5353, from whom, with which token), and a client
// that opens connections on command. JSON lines: commands on stdin, events and results on stdout. It exits when
// stdin closes, so it never outlives the test.
import {spawn} from 'node:child_process'
import dgram from 'node:dgram'
import net from 'node:net'
import readline from 'node:readline'

const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`)
const TCP_PORTS = [80, 8080]
const UDP_PORTS = [53, 5353]
let pending = TCP_PORTS.length + UDP_PORTS.length
const listening = () => --pending === 0 && out({ready: true})

for (const port of TCP_PORTS) {
  const server = net.createServer((sock) => {
    sock.setEncoding('utf8')
    let buf = ''
    sock.on('data', (d) => {
      buf += d
      const nl = buf.indexOf('\n')
      if (nl < 0) return
      out({ev: 'tcp', port, token: buf.slice(0, nl), from: sock.remoteAddress?.replace(/^::ffff:/, '')})
      sock.end('ok\n')
    })
    sock.on('error', () => {})
  })
  // Both families on one socket (IPv4 peers show as ::ffff:a.b.c.d, stripped above).
  server.listen({port, host: '::', ipv6Only: false}, listening)
}
// UDP servers bind each address of the namespace (argv): an answer leaves from the address the request was sent
// to, as a resolver's does (from 0.0.0.0 the kernel would pick the route's source, and conntrack would not know it).
const addresses = process.argv.slice(2)
pending += UDP_PORTS.length * (addresses.length - 1)
for (const port of UDP_PORTS) {
  for (const address of addresses) {
    const sock = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4')
    sock.on('message', (msg, rinfo) => {
      out({ev: 'udp', port, token: msg.toString(), from: rinfo.address})
      sock.send(msg, rinfo.port, rinfo.address)
    })
    sock.bind(port, address, listening)
  }
}

function tcp(c) {
  return new Promise((resolve) => {
    const r = {id: c.id, connected: false, replied: false}
    const sock = net.connect({host: c.dst, port: c.port})
    const done = () => {
      clearTimeout(timer)
      sock.destroy()
      resolve(r)
    }
    const timer = setTimeout(done, c.timeoutMs)
    sock.on('connect', () => {
      r.connected = true
      sock.write(`${c.token}\n`)
    })
    sock.on('data', (d) => {
      if (String(d).startsWith('ok')) {
        r.replied = true
        done()
      }
    })
    sock.on('error', done)
  })
}

function udp(c) {
  return new Promise((resolve) => {
    const r = {id: c.id, replied: false}
    const sock = dgram.createSocket(c.dst.includes(':') ? 'udp6' : 'udp4')
    const done = () => {
      clearTimeout(timer)
      sock.close()
      resolve(r)
    }
    const timer = setTimeout(done, c.timeoutMs)
    sock.on('message', (msg) => {
      if (msg.toString() === c.token) {
        r.replied = true
        done()
      }
    })
    sock.on('error', done)
    sock.send(c.token, c.port, c.dst)
  })
}

function ping(c) {
  return new Promise((resolve) => {
    const child = spawn('ping', ['-n', '-q', '-c', '1', '-W', String(c.timeoutMs / 1000), c.dst], {stdio: 'ignore'})
    child.on('exit', (code) => resolve({id: c.id, replied: code === 0}))
    child.on('error', () => resolve({id: c.id, replied: false, error: 'ping could not be run'}))
  })
}

const KINDS = {tcp, udp, ping}
readline.createInterface({input: process.stdin}).on('line', (line) => {
  const c = JSON.parse(line)
  KINDS[c.kind](c).then(out)
}).on('close', () => process.exit(0))
