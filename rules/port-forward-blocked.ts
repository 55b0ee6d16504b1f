import type {ForwardView, HostView} from '../src/derive/index.js'
import {DATAPATH, iptablesPlace, iptablesTool, nftPlace} from './datapath.js'
import {type RuleContext, type Steps, cmd, defineRule, line, nftString, text} from './kit.js'

/** Where the accept goes and what goes with it (persistence). */
interface Accept {
  fix: Steps[]
  note: string[]
}

const keep = (what: string, guest: string) =>
  `${what} do not survive a restart of libvirt or of the firewall: keep them in a libvirt qemu hook for ${guest} (run on "start" and "reconnect", after libvirt made its rules), as the forward's DNAT is kept`

/**
 * The narrowest accept for one forward's translated packets (its destination, protocol and port, DNATed
 * connections only), in the place the host's firewall manager owns, before what drops them now. Never a
 * deletion of the dropping rule, a manager's catch-all or a policy: the accept opens exactly what the forward
 * publishes. Another element (a route, a sysctl) is undone by the rule that owns its kind.
 */
export function forwardAccept(e: ForwardView, host: HostView, rules: RuleContext): Accept {
  const el = e.element
  if (!el) return {fix: [], note: []}
  if ((el.kind !== 'nf-rule' && el.kind !== 'nf-policy') || !e.bridge) return {fix: [rules.undo(el)], note: []}
  const {bridge, targetAddress: addr, targetPort: port, proto} = e
  const reply = e.outsideFlow === 'inbound-reply'
  const guest = e.context.domain ?? addr
  const tool = iptablesTool(el)
  // The packet as the deciding chain sees it: before the DNAT (raw, mangle prerouting), the published address and port;
  // after it, the guest's; the connection's state only once conntrack has attached it; only the devices its hook knows.
  const sees = e.chainSees ?? {translated: true, tracked: true, inDevice: true, outDevice: true}
  if (!sees.translated && e.hostAddress === null && reply) return {fix: [], note: [`the reply is dropped after its source is put back to the host's address, which the forward does not name: add an accept for ${proto} port ${e.port} from this host in ${el.text} by hand`]}
  const published = sees.translated ? undefined : {addr: e.hostAddress, port: e.port, inDevice: sees.inDevice ? e.inDevice : null}
  // iptables' words for "this forward's packets" (the reply: from the guest's port back out), in the order
  // iptables-save lists them, so the rule reads the same in the fix and in the ruleset afterwards.
  const ipt = reply
    ? published
      ? ['-s', `${published.addr}/32`, '-p', proto, '-m', proto, '--sport', String(published.port), '-m', 'conntrack', '--ctstate', 'ESTABLISHED', '-j', 'ACCEPT']
      : ['-s', `${addr}/32`, ...(sees.inDevice ? ['-i', bridge] : []), '-p', proto, '-m', proto, '--sport', String(port), ...(sees.tracked ? ['-m', 'conntrack', '--ctstate', 'ESTABLISHED'] : []), '-j', 'ACCEPT']
    : published
      ? [...(published.addr ? ['-d', `${published.addr}/32`] : []), ...(published.inDevice ? ['-i', published.inDevice] : []), '-p', proto, ...(published.addr ? [] : ['-m', 'addrtype', '--dst-type', 'LOCAL']), '-m', proto, '--dport', String(published.port), '-j', 'ACCEPT']
      : ['-d', `${addr}/32`, ...(sees.outDevice ? ['-o', bridge] : []), '-p', proto, '-m', proto, '--dport', String(port), ...(sees.tracked ? ['-m', 'conntrack', '--ctstate', 'DNAT'] : []), '-j', 'ACCEPT']
  // A chain outside iptables' filter table is named with its table.
  const table = el.nfTable && el.nfTable !== 'filter' ? ['-t', el.nfTable] : []
  // nft's words (nft joins them): the interface name in nft's own quotes; none when nft cannot spell it.
  const nftInsert = (chain: string | undefined, note: string[]): Accept => {
    const name = nftString(bridge)
    const inName = published?.inDevice ? nftString(published.inDevice) : undefined
    if (name === undefined || (published?.inDevice && inName === undefined)) return {fix: [], note: [`nft cannot spell the interface name ${name === undefined ? bridge : published?.inDevice}: add an accept for ${proto} ${addr}:${port} by hand`]}
    const match = reply
      ? published
        ? ['ip', 'saddr', String(published.addr), proto, 'sport', String(published.port), 'ct', 'state', 'established', 'accept']
        : [...(sees.inDevice ? ['iifname', name] : []), 'ip', 'saddr', addr, proto, 'sport', String(port), ...(sees.tracked ? ['ct', 'state', 'established'] : []), 'accept']
      : published
        ? [...(inName ? ['iifname', inName] : []), ...(published.addr ? ['ip', 'daddr', published.addr] : ['fib', 'daddr', 'type', 'local']), proto, 'dport', String(published.port), 'accept']
        : [...(sees.outDevice ? ['oifname', name] : []), 'ip', 'daddr', addr, proto, 'dport', String(port), ...(sees.tracked ? ['ct', 'status', 'dnat'] : []), 'accept']
    // Just before the drop when it is in that chain (its earlier rules keep deciding), else at the chain's top.
    const place = nftPlace(el, chain)
    return {fix: [cmd`nft ${place?.verb} rule ${el.family} ${el.nfTable} ${chain} ${place?.at} ${match}`], note}
  }
  // A firewall manager's own place for an accept (ufw's route rules, firewalld's policies, DOCKER-USER) is in forward.
  const atForward = el.hook === undefined || el.hook === 'forward'
  const chain = el.chain ?? ''
  if (el.libvirtOwned === true) {
    // libvirt's own reject: an accept ahead of it, never its deletion (it is what keeps NAT guests unreachable otherwise).
    if (el.nftSyntax) return nftInsert(el.chain, [keep("Rules in libvirt's own table", guest)])
    return {fix: [{argv: [tool, '-I', 'FORWARD', '1', ...ipt]}], note: [keep('iptables rules', guest)]}
  }
  if (atForward && (el.nfTable === 'firewalld' || (e.firewallManagers.includes('firewalld') && el.nftSyntax && chain.startsWith('filter_')))) {
    // firewalld names a policy in at most 17 characters, of letters, digits, '_' and '-'.
    const policy = `kvmdoctor-${guest}-${proto}${port}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 17)
    const zone = e.firewalldZone ?? 'libvirt'
    return {
      fix: [
        cmd`firewall-cmd --permanent --new-policy ${policy}`,
        cmd`firewall-cmd --permanent --policy ${policy} --add-ingress-zone ANY`,
        cmd`firewall-cmd --permanent --policy ${policy} --add-egress-zone ${zone}`,
        cmd`firewall-cmd --permanent --policy ${policy} --add-rich-rule ${`rule family="ipv4" destination address="${addr}" port port="${port}" protocol="${proto}" accept`}`,
        cmd`firewall-cmd --reload`,
      ],
      note: [`a firewalld policy from any zone to ${zone} (the zone of ${bridge}) that accepts only ${proto} ${addr}:${port}`],
    }
  }
  const base = el.baseChain ?? chain
  if (atForward && (/^ufw6?-/.test(chain) || (e.firewallManagers.includes('ufw') && !el.nftSyntax && el.kind === 'nf-policy'))) {
    if (reply) return {fix: [{argv: [tool, '-I', base, ...ipt]}], note: [keep('iptables rules', guest)]}
    return {fix: [cmd`ufw route allow proto ${proto} from any to ${addr} port ${port}`], note: ["ufw's route rule: it persists in /etc/ufw/user.rules"]}
  }
  // Docker's FORWARD policy DROP and its chains: DOCKER-USER is the place Docker leaves to the admin.
  if (atForward && e.firewallManagers.includes('docker') && host.dockerUserChain === true && !el.nftSyntax) return {fix: [{argv: [tool, '-I', 'DOCKER-USER', ...ipt]}], note: [keep('iptables rules', guest)]}
  if (el.nftSyntax) return nftInsert(base, [`add it to the file that loads table ${el.family} ${el.nfTable} (e.g. /etc/nftables.conf) to keep it`])
  // Just before the drop when it is in the base chain (the rules before it, a blocklist among them, keep deciding).
  const place = iptablesPlace(el, base)
  return {fix: place ? [{argv: [tool, ...table, ...place, ...ipt]}] : [], note: [keep('iptables rules', guest)]}
}

export default defineRule<ForwardView>({
  id: 'port-forward-blocked',
  kind: 'forward',
  severity: 'high',
  needs: DATAPATH,
  // The round trip from outside fails, and not because the target is nobody's or a hook's rules are gone (their own findings).
  conditions: (c) => c.all(c.eq('outsideVerdict', 'fail'), c.not(c.isIn('elementKind', ['dnat-target', 'hook-lost']))),
  title: (e) => text`The published port ${e.name} does not reach ${e.targetHolder}: ${e.outsideHop}`,
  summary: (e) =>
    text`A connection from outside to ${e.proto} port ${e.port} is meant for ${e.targetAddress}:${e.targetPort}${e.context.domain ? ` (${e.context.domain}),` : ', which no guest holds,'} but its ${e.outsideFlow} flow stops at ${e.outsideHop}: ${e.outsideDetail}. A NAT network admits only replies from outside; a forward needs an accept of its own, ahead of what rejects it.`,
  evidence: (e) => [line`decided by: ${e.elementText}`, line`forward found in: ${e.foundBy}`, ...e.rules, ...e.flows, line`assumes: ${e.assumptions}`],
  fix: (e, host, rules) => forwardAccept(e, host, rules).fix,
  check: (e) => [cmd`kvmdoctor trace --inbound ${`${e.hostAddress ? `${e.hostAddress}:` : ''}${e.port}/${e.proto}`}`],
  note: (e, host) => forwardAccept(e, host, {undo: () => []}).note,
})
