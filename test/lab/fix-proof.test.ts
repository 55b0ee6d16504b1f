/**
 * The fixes, proven on the live lab (issue 23): a scenario is injected, its root cause's fix is applied exactly as
 * printed through `kvmdoctor fix --yes`, and then the guests recover by their own measurements, the guests the fix
 * does not name kept running (same QEMU pid), the host's exposure seen from the lab's outside namespace is what it
 * was, the re-traced flows have their pre-fault verdicts, and the host's state (firewall, sysctls, routes, rules,
 * networks) is the pre-fault state, or the faulted state plus exactly what the fix adds (PROOFS: `footprint`).
 *
 * By default (CI) the proofs marked `ci` run: one per kind of fix, each about 50 s. `KD_FIX_PROOF=all` runs every
 * proof (test/lab/README.md, "Fix proofs", lists them and the scenarios whose fix is not proven, and why).
 * Run alone: `flock /run/lock/kvmdoctor-lab.lock npm run test:lab -- test/lab/fix-proof.test.ts`
 * (every proof: `KD_FIX_PROOF=all flock ...`).
 */
import {execa} from 'execa'
import {chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {PUBLISHED} from '../inbound-oracle.js'
import {REACH_OK} from '../scenarios.js'
import {type LabBaseline, captureHostState, diffHostState, putHostBack, restoreHostState, startLabHost} from './host-state.js'
import {CACHE, INET, ROOT, WEB01, kvmdoctor, sh, startGuest, startInternet, waitFor} from './lab.js'
import {reachSeq, runningLabGuests, waitReachOk} from './oracle.js'
import {LIVE, measureInbound} from './scenarios-live.js'

const HOST_STATE = join(CACHE, 'kdlab-fix-host-state.json')
const INTERNET = `${INET.server}:${INET.port}/tcp`

interface Proof {
  /** Runs by default (CI); the others only with KD_FIX_PROOF=all. */
  ci: boolean
  /** What the fix does, for the log and the README's table. */
  kind: string
  /**
   * What the host's state is after the fix. `restores`: the pre-fault state. `adds`: the fix works around what the
   * fault put there, which stays (Docker's drop in DOCKER-USER, an admin's reject, a VPN's rule): the faulted state
   * plus exactly the fix's own additions (its iptables accepts as printed, and every `adds` difference), nothing
   * deleted, nothing else changed.
   */
  footprint: 'restores' | 'adds'
  /** `adds`: the differences from the faulted state the fix makes besides iptables filter accepts (each must be there). */
  adds?: RegExp[]
  /** `adds`: differences from the faulted state the fix may make (Open vSwitch's footprint when it re-adds a port, a sysctl's alias). */
  may?: RegExp[]
  /**
   * `adds`: iptables rules (as iptables-save prints them) the fix makes again because the fault deleted them (a
   * manager's own, re-created when it restarts): each must match one of these, be one the pre-fault state had and the
   * faulted state lacks, and each pattern must be re-made.
   */
  readds?: {table: string; rule: RegExp}[]
  /** `restores`: differences from the pre-fault state that are the fault's own, which the fix rightly leaves (an emptied table the fault made). */
  leaves?: RegExp[]
  /** Findings after the fix about what the fault left (a network it defined, Open vSwitch it started), beside the guests it booted. */
  leftovers?: RegExp
  /** `adds`: iptables rules (as iptables-save prints them) a script the fix runs adds: the printed text does not list them. */
  scriptRules?: {table: string; rule: RegExp}[]
  /**
   * An inbound fix: what real connections to the published port get after it (test/lab/scenarios-live.ts
   * measureInbound). It opens that port on purpose: the host's exposure swept from outside gains that port, nothing else.
   */
  inbound?: {outside: boolean; host?: boolean}
}

/** The host state's lines of an iptables table, as iptables-save and as nft (iptables-nft) show it. */
const iptablesTable = (table: string) => new RegExp(`^(iptables-save ${table}|nft table ip ${table})\\b`)
/** The root-cause fixes proven here, by scenario. */
const PROOFS: Record<string, Proof> = {
  // The first eight (issue 23's first round).
  'network-inactive': {ci: true, kind: 'libvirt network started, taps re-plugged', footprint: 'restores'},
  'dnsmasq-killed': {ci: true, kind: 'libvirt network restarted (guests labelled), taps re-plugged', footprint: 'restores'},
  'dns-port-conflict': {ci: true, kind: 'port freed (kill, wait), network started, taps re-plugged', footprint: 'restores'},
  'docker-user-drop': {ci: true, kind: 'iptables accepts in DOCKER-USER', footprint: 'adds'},
  'mac-duplicate': {ci: true, kind: "the copy's interface detached and attached with a new MAC", footprint: 'restores'},
  'tap-detached': {ci: true, kind: 'tap re-plugged on its bridge', footprint: 'restores'},
  'forward-reject-subnet': {ci: true, kind: 'iptables accepts in FORWARD', footprint: 'adds'},
  'dhcp-input-drop': {ci: true, kind: 'iptables accepts in INPUT', footprint: 'adds'},
  // One per further kind of fix in CI.
  'ip-forward-off': {ci: true, kind: 'sysctl written, and persisted in /etc/sysctl.d', footprint: 'restores'},
  'nft-forward-drop': {ci: true, kind: 'native nft accepts inserted in the admin\'s chain', footprint: 'adds', adds: [/^nft table inet kdlab_fw chain forward: /]},
  'reply-policy-blackhole': {ci: true, kind: 'ip rule keeping the replies to the guests on main', footprint: 'adds', adds: [/^ip rules: new "102:(\\t|\s)+from all to 192\.168\.122\.0\/24 lookup main"$/]},
  'reply-route-carved': {ci: true, kind: 'a carved host route deleted', footprint: 'restores'},
  'tc-bridge-bfifo-small': {ci: true, kind: 'tc root qdisc deleted', footprint: 'restores'},
  'masquerade-removed': {ci: true, kind: 'libvirtd restarted (re-creates its rules)', footprint: 'restores'},
  // KD_FIX_PROOF=all: more of the same kinds, and kinds each scenario of its own.
  'bridge-forwarding-off': {ci: false, kind: 'sysctl written (a device\'s forwarding)', footprint: 'restores'},
  'reply-uplink-forwarding-off': {ci: false, kind: 'sysctl written (the uplink\'s forwarding)', footprint: 'restores'},
  // ip_forward stays 0 (forwarding enabled per device is the admin's choice): the uplink's own key is set, nothing else.
  'uplink-arp-off': {ci: false, kind: 'ARP back on (the uplink)', footprint: 'restores'},
  'uplink-arp-ignore-never': {ci: false, kind: "sysctl written (the uplink's arp_ignore)", footprint: 'restores'},
  'reply-synack-drop': {ci: false, kind: 'iptables accepts in FORWARD, ahead of a drop of the SYN-ACK replies', footprint: 'adds'},
  'ip-forward-per-device-uplink-off': {ci: false, kind: "sysctl written (the uplink's own forwarding, ip_forward left 0)", footprint: 'adds', adds: [/^sysctl net\/ipv4\/conf\/kdlab-up0\/forwarding:/]},
  // The same on an open network's bridge; its guest's return route is then followed to the upstream (the fault's network).
  'network-open-forward-off': {ci: false, kind: "sysctl written (an open network's bridge's own forwarding, ip_forward left 0)", footprint: 'adds', adds: [/^sysctl net\/ipv4\/conf\/kdlab-rt\/forwarding:/], leftovers: /kdlab-rt/},
  // The fix sets the kernel's own default (the hash table size, as before the fault), not the fault's value doubled.
  'conntrack-full': {ci: false, kind: "sysctl written (nf_conntrack_max back to the kernel's default), and persisted", footprint: 'restores'},
  'nft-forward-daddr-drop': {ci: false, kind: 'native nft accepts inserted in the admin\'s chain', footprint: 'adds', adds: [/^nft table inet kdlab_fwd chain forward: /]},
  'nft-input-dns-drop': {ci: false, kind: 'native nft accepts inserted in the admin\'s input chain', footprint: 'adds', adds: [/^nft table inet kdlab_dns chain input: /]},
  'nft-mark-map-drop': {ci: false, kind: 'native nft accepts inserted in the admin\'s chain (a drop on a mark set from a map)', footprint: 'adds', adds: [/^nft table inet kdlab_mark chain forward: /]},
  'ipset-forward-drop': {ci: false, kind: 'iptables accepts in FORWARD before an ipset drop', footprint: 'adds'},
  'bridged-forward-drop': {ci: false, kind: 'iptables accepts in DOCKER-USER for a bridged LAN', footprint: 'adds', leftovers: /kdlab-lan/},
  'bridged-forward-drop-bridge-option': {ci: false, kind: 'iptables accepts in DOCKER-USER for a bridged LAN (the bridge\'s own nf_call_iptables)', footprint: 'adds', leftovers: /kdlab-lan/},
  'policy-route-unreachable': {ci: false, kind: 'ip rule keeping what the guests send on main', footprint: 'adds', adds: [/^ip rules: new "99:(\\t|\s)+from all iif virbr0 lookup main"$/]},
  'reply-mark-divert': {ci: false, kind: 'ip rule keeping the (marked) replies to the guests on main', footprint: 'adds', adds: [/^ip rules: new "103:(\\t|\s)+from all to 192\.168\.122\.0\/24 lookup main"$/]},
  'nat-return-before-libvirt': {ci: false, kind: "an admin's nat RETURN deleted", footprint: 'restores'},
  'snat-address-not-local': {ci: false, kind: "an admin's SNAT to an address the host lacks deleted", footprint: 'restores'},
  'notrack-guest-subnet': {ci: false, kind: "an admin's raw NOTRACK deleted", footprint: 'restores', leaves: [/^(iptables-save raw|nft table ip raw)\b/]},
  'ct-zone-guests': {ci: false, kind: "an admin's raw CT --zone deleted", footprint: 'restores', leaves: [/^(iptables-save raw|nft table ip raw)\b/]},
  'output-dhcp-reply-drop': {ci: false, kind: "an admin's OUTPUT drop deleted", footprint: 'restores'},
  // Red team 19: the guests' DNS exempted from an admin's REDIRECT to a port nothing listens on (the REDIRECT stays).
  'nat-redirect-dns-unlistened': {ci: false, kind: "iptables accepts in nat PREROUTING ahead of an admin's REDIRECT", footprint: 'adds'},
  'netdev-ingress-drop-replies': {ci: false, kind: "an admin's netdev rule deleted by handle", footprint: 'restores', leaves: [/^nft table netdev kdlab_nd_in: new /]},
  'netdev-egress-drop-dhcp': {ci: false, kind: "an admin's netdev rule deleted by handle", footprint: 'restores', leaves: [/^nft table netdev kdlab_nd_out: new /]},
  // ebtables-nft's table (bridge filter) stays, emptied: the fault made it.
  'ebtables-input-dns-drop': {ci: false, kind: "an admin's ebtables rule (nft bridge filter) deleted by handle", footprint: 'restores', leaves: [/^nft table bridge filter: new /]},
  'dnsmasq-stopped': {ci: false, kind: 'a stopped dnsmasq resumed (kill -CONT)', footprint: 'restores'},
  'tc-tap-tbf-burst': {ci: false, kind: 'tc root qdisc deleted (a tap)', footprint: 'restores'},
  'tc-uplink-pfifo-zero': {ci: false, kind: 'tc root qdisc deleted (the uplink)', footprint: 'restores'},
  // The fault's sink veth (kdlab-tcsink0/1) stays: its sysctls are the fault's.
  'tc-redirect-dns': {ci: false, kind: 'tc filter deleted', footprint: 'restores', leaves: [/^sysctl net\/ipv[46]\/(conf|neigh)\/kdlab-tcsink[01]\//]},
  // The fault's veth stays (raised to 1500): its sysctls are the fault's; virbr0's (net/ipv6/conf/virbr0/mtu) are back.
  'mtu-mismatch': {ci: false, kind: "the port that dragged the bridge down raised to the guests' MTU, then the bridge", footprint: 'restores', leaves: [/^sysctl net\/ipv[46]\/(conf|neigh)\/kdlab-mtu[01]\//]},
  // Red team 10: the bridge layer's own fixes, held against guests. The fault's veth stays (its sysctls are the fault's).
  'fdb-sticky-wrong-port': {ci: false, kind: "a sticky fdb entry for the guest's MAC on another port deleted", footprint: 'restores', leaves: [/^sysctl net\/ipv[46]\/(conf|neigh)\/kdlab-fdb[01]\//]},
  'tap-unicast-flood-off': {ci: false, kind: "learning back on for the guest's port (flooding stays off)", footprint: 'restores'},
  // The admin's table stays, emptied: the fault made it.
  'nft-bridge-input-drop': {ci: false, kind: "an admin's nft bridge rule deleted by handle", footprint: 'restores', leaves: [/^nft table bridge kdlab_br: new /]},
  'bridge-down': {ci: false, kind: 'bridge set up', footprint: 'restores'},
  'tap-admin-down': {ci: false, kind: 'tap set up', footprint: 'restores'},
  'domif-link-down': {ci: false, kind: "guest's link set up (virsh domif-setlink)", footprint: 'restores'},
  // The fault's /30 (and its routes) and the unreachable fallback stay: the fix adds the /24 beside them.
  'bridge-prefix-narrowed': {ci: false, kind: "network's /24 added back beside a narrower address", footprint: 'restores', leaves: [/^routes: new "unreachable 192\.168\.122\.0\/24 metric 4000"$/, /^routes: new ".*192\.168\.122\.(0\/30|3) /]},
  'gateway-address-removed': {ci: false, kind: "network's gateway address put back", footprint: 'restores', leaves: [/^routes: new "unreachable 192\.168\.122\.0\/24 metric 4000"$/]},
  'stp-forward-delay': {ci: false, kind: "bridge's forward delay set", footprint: 'restores'},
  'dhcp-range-exhausted': {ci: false, kind: 'DHCP range widened (virsh net-update)', footprint: 'adds', adds: [/^libvirt network kdlab-tiny: /], leftovers: /kdlab-tiny/},
  'wire-dhcp-unanswered': {ci: false, kind: 'libvirt network restarted (guests labelled), taps re-plugged', footprint: 'restores'},
  'firewall-flushed': {ci: false, kind: 'libvirtd restarted (re-creates its rules)', footprint: 'restores'},
  // The fault's iptables-restore registered every built-in chain its file lists: those empty base chains are the fault's.
  'firewall-reload-after-libvirtd': {ci: false, kind: 'libvirtd restarted (re-creates its chains)', footprint: 'restores', leaves: [/^nft table ip (filter|nat|mangle|raw) chain [A-Z]+: new /]},
  // The legacy shape (alternatives switched, libvirt's rules in x_tables) is the fault's setting: judged against the faulted state.
  // The restart re-makes libvirt's three MASQUERADE rules of its network the fault deleted, nothing else (the live run:
  // they were the 3 rules beyond the printed lines).
  'legacy-backend-masquerade-removed': {
    ci: false,
    kind: 'libvirtd restarted on the legacy backend (re-adds its MASQUERADE)',
    footprint: 'adds',
    adds: [/^iptables-legacy-save nat chain LIBVIRT_PRT: /],
    readds: [
      {table: 'nat', rule: /^-A LIBVIRT_PRT -s 192\.168\.122\.0\/24 ! -d 192\.168\.122\.0\/24 -j MASQUERADE$/},
      {table: 'nat', rule: /^-A LIBVIRT_PRT -s 192\.168\.122\.0\/24 ! -d 192\.168\.122\.0\/24 -p (tcp|udp) -j MASQUERADE --to-ports 1024-65535$/},
    ],
  },
  // The live legacy MASQUERADE moved: appended to iptables-nft (as iptables-save and nft print it), then deleted from legacy.
  'firewall-backend-mismatch': {
    ci: false,
    kind: 'a legacy rule moved to iptables-nft, then deleted from the legacy table',
    footprint: 'adds',
    // The legacy nat table held only that rule: emptied, iptables-legacy-save no longer lists it.
    adds: [/^iptables-legacy-save nat(: gone \(chain INPUT, chain OUTPUT, chain POSTROUTING, chain PREROUTING\)$| chain POSTROUTING: )/],
    may: [/^(iptables-save nat|nft table ip nat) chain POSTROUTING: /],
  },
  // Open vSwitch, the LAN behind it and the OVS guest are the fault's setting: judged against the faulted state.
  'ovs-vlan-mismatch': {ci: false, kind: "OVS port's access VLAN set", footprint: 'adds', may: [/^Open vSwitch: /], leftovers: /kdlab-(ovs|lan)/},
  'ovs-port-missing': {ci: false, kind: "OVS port added back in libvirt's VLAN, with its ids", footprint: 'adds', may: [/^Open vSwitch: /], leftovers: /kdlab-(ovs|lan)/},
  'ovs-flow-drop': {ci: false, kind: 'one OVS flow deleted by its exact match', footprint: 'adds', may: [/^Open vSwitch: /], leftovers: /kdlab-(ovs|lan)/},
  // Inbound: a connection from outside to the published port recovers; the fix opens that port only.
  'inbound-prerouting-drop': {ci: false, kind: 'iptables accept in mangle PREROUTING for the published address and port, ahead of the drop', footprint: 'adds', inbound: {outside: true, host: true}},
  'inbound-forward-blocked': {ci: false, kind: 'iptables accept in FORWARD for the DNATed connections to the guest', footprint: 'adds', inbound: {outside: true, host: true}},
  'inbound-reply-blocked': {ci: false, kind: "iptables accept in FORWARD for the guest's answers of the DNATed connections", footprint: 'adds', inbound: {outside: true, host: true}},
  'inbound-hairpin-missing': {ci: false, kind: 'iptables DNAT in nat OUTPUT (the host to its own published port)', footprint: 'adds', inbound: {outside: true, host: true}},
  // A manager's forward (firewalld's forward-port, ufw's before.rules DNAT and route rule) stopped by libvirt's reject:
  // the accept goes ahead of libvirt's. Forwards from outside only: hairpin-missing is the manager's setting.
  'inbound-firewalld-forward-port': {ci: false, kind: "iptables accept ahead of libvirt's reject, for firewalld's forward-port", footprint: 'adds', inbound: {outside: true}, leftovers: /^hairpin-missing@forward:tcp /},
  'inbound-ufw-route': {ci: false, kind: "iptables accept ahead of libvirt's reject, for ufw's forward", footprint: 'adds', inbound: {outside: true}, leftovers: /^hairpin-missing@forward:tcp /},
  'inbound-hook-rules-lost': {
    ci: false,
    kind: "the host's qemu hook re-run for the guest (reconnect)",
    footprint: 'adds',
    scriptRules: [
      {table: 'filter', rule: /^-A FORWARD -d 192\.168\.122\.\d+\/32 -o virbr0 -p tcp --dport 80 -j ACCEPT$/},
      {table: 'nat', rule: /^-A PREROUTING -d 198\.51\.100\.1\/32 -p tcp --dport 8080 -j DNAT --to-destination 192\.168\.122\.\d+:80$/},
    ],
    inbound: {outside: true},
    // The wiki's hook forwards from outside only (PREROUTING): the host's own connections to the published address
    // are not forwarded, which hairpin-missing says whenever the hook's rules are in place.
    leftovers: /^hairpin-missing@forward:tcp 198\.51\.100\.1:8080 -> /,
  },
}
const SELECTED = Object.keys(PROOFS).filter((name) => process.env.KD_FIX_PROOF === 'all' || PROOFS[name].ci)

/**
 * The lab runs libvirtd without systemd (`libvirtd -d`), so `systemctl restart libvirtd` as a fix prints it cannot
 * run here: on a host without systemd as PID 1 the fix runs with this stand-in first on its PATH, which restarts
 * libvirtd the way the lab starts it and hands every other use to the real systemctl.
 */
const SYSTEMCTL_STANDIN = `#!/bin/sh
case "$1" in restart|try-restart) ;; *) exec /usr/bin/systemctl "$@" ;; esac
verb=$1; shift
for unit in "$@"; do
  case "\${unit%.service}" in
    libvirtd)
      pids=$(pgrep -x libvirtd)
      if [ -n "$pids" ]; then kill $pids; while pgrep -x libvirtd >/dev/null; do sleep 0.2; done
      elif [ "$verb" = try-restart ]; then continue; fi
      libvirtd -d || exit 1
      i=0; until virsh -c qemu:///system version >/dev/null 2>&1; do sleep 0.5; i=$((i+1)); [ $i -gt 60 ] && exit 1; done ;;
    *) [ "$verb" = try-restart ] && continue; /usr/bin/systemctl "$verb" "$unit" || exit $? ;;
  esac
done
`
function fixEnv(): Record<string, string> | undefined {
  if (existsSync('/run/systemd/system')) return undefined
  const dir = join(CACHE, 'kdlab-fix-bin')
  mkdirSync(dir, {recursive: true})
  writeFileSync(join(dir, 'systemctl'), SYSTEMCTL_STANDIN)
  chmodSync(join(dir, 'systemctl'), 0o755)
  return {PATH: `${dir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`}
}

/** The sysctl.d files a printed fix writes, as they were (undefined: absent), to put back after the proof. */
const dropInsOf = (printed: string) => [...new Set(printed.match(/\/etc\/sysctl\.d\/[\w.-]+\.conf/g) ?? [])]
const readIfThere = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : undefined)

/** The rules a printed `nft insert|add rule FAMILY TABLE CHAIN ...` line adds, by chain. */
const nftInserts = (printed: string) =>
  printed
    .split('\n')
    .map((l) => /^nft (?:insert|add) rule (\S+) (\S+) (\S+) /.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} ${m[2]} ${m[3]}`)
/** How many rules a chain has in `nft -j list ruleset`. */
const nftRuleCount = (json: string, chain: string) =>
  (JSON.parse(json) as {nftables: {rule?: {family: string; table: string; chain: string}}[]}).nftables.filter((x) => x.rule && `${x.rule.family} ${x.rule.table} ${x.rule.chain}` === chain).length

/** A guest's QEMU process and when it started (clock ticks after boot, /proc/PID/stat field 22): the same pair is the same run, uptime unbroken. */
const qemuPid = (guest: string) => {
  const file = `/run/libvirt/qemu/${guest}.pid`
  if (!existsSync(file)) return undefined
  const pid = readFileSync(file, 'utf8').trim()
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : ''
  return `${pid} started at ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '?'}`
}

type FlowVerdicts = Map<string, string>
/** Every flow of the live diagnosis by guest, interface and kind, with its verdict. */
const flowVerdicts = (report: {flows?: {guest: string; iface: string; kind: string; verdict: string}[]}): FlowVerdicts =>
  new Map((report.flows ?? []).map((f) => [`${f.guest} ${f.iface} ${f.kind}`, f.verdict]))

/** A rule as iptables-save prints it, without the protocol match it adds itself (`-p tcp --dport 53` prints `-p tcp -m tcp --dport 53`). */
const sameRule = (rule: string) => rule.replace(/ -m (tcp|udp)(?= )/g, '')
/** The rules iptables-save prints (one per line, as -A CHAIN ...): what a fix adds or deletes. */
const iptablesRules = (save: string) => save.split('\n').filter((l) => l.startsWith('-A ')).map(sameRule)

/**
 * The rules printed fix lines add, by table, as iptables-save prints them, each as `-A CHAIN spec`: rules inserted
 * (`iptables [-t T] -I CHAIN [N] spec`) and rules moved to iptables-nft (`iptables-nft -t T -A CHAIN spec`).
 */
const addedRuleLines = (printed: string) =>
  printed
    .split('\n')
    .map((l) => /^(iptables|iptables-nft) (?:-t (\S+) )?(?:-I (\S+) (?:\d+ )?|-A (\S+) )(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({tool: m[1], table: m[2] ?? 'filter', rule: sameRule(`-A ${m[3] ?? m[4]} ${m[5]}`)}))
const addedRules = (printed: string) => addedRuleLines(printed).map((r) => r.rule)

/** TCP ports of the host's uplink-side address that answer from the lab's outside namespace (a connect sweep). */
async function exposure(): Promise<number[]> {
  const sweep = `
import asyncio
async def probe(port, sem):
    async with sem:
        try:
            _, w = await asyncio.wait_for(asyncio.open_connection('${INET.hostAddr}', port), 0.5)
            w.close()
            return port
        except Exception:
            return None
async def main():
    sem = asyncio.Semaphore(256)
    ports = list(range(1, 1025)) + [2024, 5355, 8080, 16509, 16514]
    print(' '.join(str(p) for p in await asyncio.gather(*(probe(p, sem) for p in ports)) if p))
asyncio.run(main())`
  const r = await sh(['ip', 'netns', 'exec', INET.netns, 'python3', '-c', sweep])
  return r.stdout.trim().split(/\s+/).filter(Boolean).map(Number)
}

/** The first root cause the live diagnosis ranks that has fix lines (of two guests sharing a MAC, the copy's). */
async function rootCause(): Promise<{id: string; entity: {kind: string; name: string}}> {
  const run = await kvmdoctor([])
  const findings = run.report.findings as unknown as {id: string; entity: {kind: string; name: string}; severity: string; explainedBy?: string; fixSteps: unknown[]}[]
  const roots = findings.filter((f) => !f.explainedBy && f.fixSteps.length > 0 && f.severity !== 'info')
  expect(roots.length, `a root cause with a fix (findings: ${findings.map((f) => f.id).join(', ')})`).toBeGreaterThan(0)
  return roots[0]
}

/** The taps of running guests (virsh domiflist's Interface column). */
async function tapsOf(guests: string[]): Promise<string[]> {
  const lists = await Promise.all(guests.map(async (g) => (await sh(['virsh', 'domiflist', g], {reject: false})).stdout))
  return lists.flatMap((l) => l.split('\n').slice(2).map((row) => row.trim().split(/\s+/)[0]).filter((t) => t && t !== '-'))
}

/** A guest the injection booted is the scenario's, not the fix's: its tap is new, with its own sysctls (a new one when the fix replaced its interface). */
const ofTaps = (taps: string[]) => (d: string) => taps.some((t) => d.startsWith(`sysctl net/ipv4/conf/${t}/`) || d.startsWith(`sysctl net/ipv6/conf/${t}/`) || d.startsWith(`sysctl net/ipv4/neigh/${t}/`) || d.startsWith(`sysctl net/ipv6/neigh/${t}/`)) && /: new \(/.test(d)

describe('fixes proven on the lab', () => {
  let baseline: LabBaseline | undefined
  beforeAll(async () => {
    baseline = await startLabHost(HOST_STATE)
    if (baseline.recovered.length > 0) console.warn(`restored what an interrupted lab run left:\n  ${baseline.recovered.join('\n  ')}`)
    await startInternet()
    await startGuest(WEB01)
    await waitReachOk(WEB01.name, {after: reachSeq(WEB01.name)})
  }, 600_000)

  afterAll(async () => {
    if (baseline) await putHostBack(baseline, HOST_STATE)
  }, 180_000)

  for (const name of SELECTED) {
    const proof = PROOFS[name]
    it(`fix-proof ${name} (${proof.kind}): the printed root-cause fix, applied with kvmdoctor fix --yes, brings the guests back and changes nothing else`, async () => {
      const started = Date.now()
      const live = LIVE[name]
      const before = await captureHostState()
      const exposed = await exposure()
      const healthy = (await kvmdoctor([])).report
      const baseline = healthy.findings.map((f) => `${f.id}@${f.entity.kind}:${f.entity.name}`)
      const baselineFlows = flowVerdicts(healthy as never)
      const guestsBefore = await runningLabGuests()
      let printedText = ''
      const dropIns = new Map<string, string | undefined>()
      try {
        await live.inject()
        const guests = await runningLabGuests()
        const pids = Object.fromEntries(guests.map((g) => [g, qemuPid(g)]))
        const faulted = await captureHostState()
        const faultedFlows = flowVerdicts((await kvmdoctor([])).report as never)
        // A fix that works around the fault, which stays (`adds`), is held to the faulted host's exposure: a manager's
        // ruleset the fault put there closes what it closes (its INPUT policy), before and after the fix alike.
        const exposedBefore = proof.footprint === 'adds' ? await exposure() : exposed
        const faultedInbound = proof.inbound ? Object.fromEntries(Object.keys(proof.inbound).map((from) => [from, undefined as boolean | undefined])) : {}
        if (proof.inbound) for (const m of (await measureInbound()).measures) if (m.from in faultedInbound) faultedInbound[m.from] = m.answered
        const root = await rootCause()
        const target = `${root.id}@${root.entity.kind}:${root.entity.name}`
        const printed = await execa(process.execPath, [join(ROOT, 'bin/run.js'), 'fix', target, '--internet', INTERNET], {reject: false, stdin: 'ignore'})
        printedText = String(printed.stdout)
        for (const file of dropInsOf(printedText)) dropIns.set(file, readIfThere(file))
        const applied = await execa(process.execPath, [join(ROOT, 'bin/run.js'), 'fix', target, '--yes', '--internet', INTERNET], {reject: false, stdin: 'ignore', timeout: 240_000, env: fixEnv()})
        console.info(`${name}: ${target}\n${String(applied.stdout)}\n${String(applied.stderr)}`)
        // What ran is what was printed.
        expect(String(applied.stdout)).toBe(printedText)
        expect(applied.exitCode, `kvmdoctor fix ${target} --yes: ${String(applied.stderr)}`).toBe(0)
        // A setting persisted is the one set: the drop-in gained exactly the fix's lines.
        for (const [file, was] of dropIns) {
          const gained = (readIfThere(file) ?? '').slice((was ?? '').length)
          console.info(`${name}: ${file} gained: ${JSON.stringify(gained)}`)
          expect(gained.split('\n').filter(Boolean).length, `${name}: ${file} gained a setting`).toBeGreaterThan(0)
          for (const setting of gained.split('\n').filter(Boolean)) expect(printedText.replace(/'/g, ''), `${name}: ${file}`).toContain(setting)
        }
        // The guests the fix does not name kept running in the same QEMU process.
        const named = new Set(printedText.match(/kdlab-[\w-]+/g) ?? [])
        const kept = guests.filter((x) => !named.has(x))
        for (const g of kept) expect(qemuPid(g), `${g} kept running`).toBe(pids[g])
        console.info(`${name}: guests the fix does not name, same QEMU process and start time: ${kept.map((g) => `${g} (pid ${pids[g]})`).join(', ') || 'none'}`)
        // Of two guests sharing a MAC the fix touches the copy only: the original (web01) is among those kept running.
        if (name === 'mac-duplicate') expect(kept).toContain(WEB01.name)
        // The guests recover by their own measurements: web01 in full; another guest the fault left on a
        // self-assigned address gave up on DHCP (busybox udhcpc -n), so its fresh DHCP exchange is what it measures.
        for (const g of (await runningLabGuests()).filter((x) => x === WEB01.name || !named.has(x))) {
          const after = await waitReachOk(g, {after: reachSeq(g), timeoutMs: 90_000})
          const measured = {dhcp: after.dhcp, dns: after.dns, ping: after.ping, tcp: after.tcp}
          if (g === WEB01.name) expect(measured, `${name}: ${g} after the fix`).toEqual(REACH_OK)
          else expect(measured.dhcp, `${name}: ${g}'s DHCP after the fix (${JSON.stringify(measured)})`).toBe('ok')
        }
        const fixed = await captureHostState()
        if (proof.footprint === 'adds') {
          // The faulted state plus exactly the fix's additions: nothing deleted, nothing else added, nothing else changed.
          const accepts = addedRules(printedText)
          const [was, now] = [iptablesRules(faulted.iptables['iptables-save']), iptablesRules(fixed.iptables['iptables-save'])]
          const added = now.filter((r) => !was.includes(r))
          console.info(`${name}: iptables rules the fix added: ${added.join('; ') || 'none'}`)
          expect(was.filter((r) => !now.includes(r)), `${name}: rules the fix deleted`).toEqual([])
          // What the fault deleted and the fix makes again (a manager's own rules, as its restart re-creates them).
          const deletedByFault = iptablesRules(before.iptables['iptables-save']).filter((r) => !was.includes(r))
          const readds = proof.readds ?? []
          const readded = added.filter((r) => readds.some((x) => x.rule.test(r)) && deletedByFault.includes(r))
          for (const x of readds) expect(readded.filter((r) => x.rule.test(r)), `${name}: the fix re-makes ${x.rule}`).not.toEqual([])
          // What a script the fix runs adds (its rules are not in the printed text), each declared.
          const scriptRules = proof.scriptRules ?? []
          const byScript = added.filter((r) => !accepts.includes(r) && !readded.includes(r) && scriptRules.some((x) => x.rule.test(r)))
          for (const x of scriptRules) expect(byScript.filter((r) => x.rule.test(r)), `${name}: the rule its script adds, ${x.rule}`).toHaveLength(1)
          expect(added.filter((r) => !readded.includes(r) && !byScript.includes(r)).sort(), `${name}: rules the fix added`).toEqual(accepts.sort())
          for (const chain of new Set(nftInserts(printedText))) {
            expect(nftRuleCount(fixed.nftJson, chain) - nftRuleCount(faulted.nftJson, chain), `${name}: rules the fix added to nft chain ${chain}`).toBe(nftInserts(printedText).filter((c) => c === chain).length)
          }
          const tables = new Set([...addedRuleLines(printedText), ...scriptRules, ...readds].map((x) => x.table))
          const allowed = [...[...tables].map(iptablesTable), ...(proof.adds ?? []), ...(proof.may ?? [])]
          const diff = diffHostState(faulted, fixed)
          console.info(`${name}: host state after the fix, against the faulted state: ${diff.join('; ')}`)
          expect(accepts.length + byScript.length + (proof.adds?.length ?? 0) + (proof.may?.length ?? 0) + (proof.readds?.length ?? 0), `${name}: what the fix adds is declared`).toBeGreaterThan(0)
          expect(diff.filter((d) => !allowed.some((r) => r.test(d))), `${name}: host state after the fix, beside what it adds`).toEqual([])
          for (const r of proof.adds ?? []) expect(diff.filter((d) => r.test(d)), `${name}: the fix's own change ${r}`).not.toEqual([])
        } else {
          // The host's state is the pre-fault state (but for what the fault made that the fix rightly leaves).
          const booted = await tapsOf((await runningLabGuests()).filter((g) => !guestsBefore.includes(g)))
          const changed = diffHostState(before, fixed).filter((d) => !ofTaps(booted)(d))
          const left = changed.filter((d) => (proof.leaves ?? []).some((r) => r.test(d)))
          console.info(`${name}: host state after the fix: ${changed.length === 0 ? `as before the fault (but for the taps of the guests the injection booted: ${booted.join(', ') || 'none'})` : changed.join('; ')}`)
          expect(changed.filter((d) => !left.includes(d)), `${name}: host state after the fix`).toEqual([])
        }
        // No new finding in the full diagnosis beyond the ones the fault's own leftovers explain: the guests the injection
        // booted (kdlab-apipa01 gave up on DHCP before the fix, as busybox's udhcpc -n does, and keeps its 169.254
        // address; a new guest has no agent either) and what else the fault made (PROOFS: leftovers).
        const booted = (await runningLabGuests()).filter((g) => !guestsBefore.includes(g))
        const after = (await kvmdoctor([])).report
        const now = after.findings.map((f) => `${f.id}@${f.entity.kind}:${f.entity.name}`)
        const explainedByFault = (k: string) => ['kdlab-dup01', 'kdlab-apipa01', ...booted].some((g) => k.includes(g)) || (proof.leftovers?.test(k) ?? false)
        expect(now.filter((k) => !baseline.includes(k) && !explainedByFault(k)), `${name}: findings after the fix`).toEqual([])
        // Re-traced flow by flow: every flow of the guests that ran before the fault has its pre-fault verdict again
        // (the flows the fault stopped pass again; no other flow changed). A guest the injection booted has no baseline.
        const fixedFlows = flowVerdicts(after as never)
        const stopped = [...baselineFlows].filter(([k, v]) => faultedFlows.get(k) !== v)
        console.info(`${name}: ${baselineFlows.size} flows re-traced; the fault changed ${stopped.length}: ${stopped.map(([k, v]) => `${k} ${v} -> ${faultedFlows.get(k) ?? 'gone'} -> ${fixedFlows.get(k) ?? 'gone'}`).join('; ') || 'none'}`)
        expect(baselineFlows.size).toBeGreaterThan(0)
        expect(Object.fromEntries([...baselineFlows].map(([k]) => [k, fixedFlows.get(k)])), `${name}: flow verdicts after the fix`).toEqual(Object.fromEntries(baselineFlows))
        // The host's exposure from outside is what it was; an inbound fix's adds exactly the port it publishes.
        const published = proof.inbound ? [PUBLISHED.port] : []
        expect(await exposure(), `${name}: ports open from ${INET.netns}`).toEqual([...new Set([...exposedBefore, ...published])].sort((a, b) => a - b))
        // An inbound fix: connections to the published port get what they should again (the fault had stopped one).
        if (proof.inbound) {
          const answered = (r: Awaited<ReturnType<typeof measureInbound>>) => Object.fromEntries(Object.keys(proof.inbound!).map((from) => [from, r.measures.find((m) => m.from === from)?.answered]))
          const recovered = await measureInbound()
          console.info(`${name}: inbound after the fix: ${recovered.measures.map((m) => `${m.from} ${m.answered ? 'answered' : `not answered (${m.output})`}`).join('; ')}; under the fault: ${JSON.stringify(faultedInbound)}`)
          expect(faultedInbound, `${name}: the fault stopped an inbound connection`).not.toEqual(proof.inbound)
          expect(answered(recovered), `${name}: inbound connections after the fix`).toEqual(proof.inbound)
        }
      } finally {
        // What a fix added beside the fault, which the scenario's reset does not know, goes first: its iptables accepts and ip rules.
        for (const {tool, table, rule} of addedRuleLines(printedText)) await sh([tool, '-t', table, '-D', ...rule.split(' ').slice(1)], {reject: false})
        for (const line of printedText.split('\n').filter((l) => /^ip (-6 )?rule add /.test(l))) await sh(line.replace(' rule add ', ' rule del ').split(' '), {reject: false})
        // A setting persisted goes back to the drop-in as it was (the lab leaves the host as it found it).
        for (const [file, was] of dropIns) {
          if (was === undefined) rmSync(file, {force: true})
          else writeFileSync(file, was)
        }
        // The fault's own leftovers (a second guest, a rogue dnsmasq) go; whatever the fix changed shows in the state check.
        await live.reset().catch((e: unknown) => console.warn(`${name}: reset: ${String(e)}`))
      }
      const residue = diffHostState(before, await captureHostState())
      if (residue.length > 0) await restoreHostState(before)
      expect(residue, `${name}: the host after fix and reset`).toEqual([])
      await waitFor('web01 back', async () => (await runningLabGuests()).includes(WEB01.name), 10_000)
      console.info(`${name}: proof took ${Math.round((Date.now() - started) / 1000)} s`)
    }, 420_000)
  }
})
