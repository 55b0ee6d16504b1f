/** What the rules on datapath elements share: the probes the datapath needs, and reading an element entity. */
import type {EntityView} from '../src/derive/index.js'
import {shellQuote} from '../src/lib/shell.js'

/** Without any of these the flows cannot be followed: such rules are "not checked". */
export const DATAPATH_REQUIRES = ['netfilter', 'routes', 'ip-rules', 'links', 'sysctl', 'libvirt']

export const bridgesOf = (e: EntityView): string[] => (Array.isArray(e.bridges) ? (e.bridges as string[]) : [])
export const undoOf = (e: EntityView): string[] => (Array.isArray(e.undo) ? (e.undo as string[]) : [])

/** The tool that edits an iptables element's table (iptables, ip6tables, their legacy twins). */
export function iptablesTool(e: EntityView): string {
  const six = e.nfFamily === 'ip6'
  return e.backend === 'iptables-legacy' ? (six ? 'ip6tables-legacy' : 'iptables-legacy') : six ? 'ip6tables' : 'iptables'
}

/** The guest a forward leads to (or that held its target), for names in fixes. */
const forwardGuest = (e: EntityView) => String(e.context.domain ?? e.targetAddress)

/**
 * The narrowest accept for one forward's translated packets (its destination, protocol and port, DNATed
 * connections only), in the place the host's firewall manager owns, before what drops them now. Never a
 * deletion of the dropping rule, a manager's catch-all or a policy: the accept opens exactly what the forward
 * publishes. Returns the commands and what goes with them (persistence).
 */
export function forwardAccept(e: EntityView, host: EntityView): {fix: string[]; note: string[]} {
  const {bridge, targetAddress: addr, targetPort: port, proto} = e as unknown as {bridge: string | null; targetAddress: string; targetPort: number; proto: string}
  if ((e.elementKind !== 'nf-rule' && e.elementKind !== 'nf-policy') || !bridge) return {fix: undoOf(e), note: []}
  const reply = e.outsideFlow === 'inbound-reply'
  const managers = Array.isArray(e.firewallManagers) ? (e.firewallManagers as string[]) : []
  const guest = forwardGuest(e)
  // Every value the host gave is quoted for the shell: a name holding a quote, a space or a $ stays one word.
  const q = (v: unknown) => shellQuote(String(v))
  // iptables and nft spellings of "this forward's packets" (the reply: from the guest's port back out).
  const ipt = reply
    ? `-i ${q(bridge)} -s ${q(`${addr}/32`)} -p ${q(proto)} -m ${q(proto)} --sport ${q(port)} -m conntrack --ctstate ESTABLISHED -j ACCEPT`
    : `-o ${q(bridge)} -d ${q(`${addr}/32`)} -p ${q(proto)} -m ${q(proto)} --dport ${q(port)} -m conntrack --ctstate DNAT -j ACCEPT`
  // nft reads its argument words joined: one shell word holds the whole command, the interface name in nft's own quotes.
  const nftMatch = reply ? `iifname ${nftString(bridge)} ip saddr ${addr} ${proto} sport ${port} ct state established accept` : `oifname ${nftString(bridge)} ip daddr ${addr} ${proto} dport ${port} ct status dnat accept`
  const nftInsert = (chain: unknown, note: string[]) =>
    bridge.includes('"') ? {fix: [], note: [`nft cannot spell the interface name ${bridge}: add an accept for ${proto} ${addr}:${port} by hand`]} : {fix: [`nft ${q(`insert rule ${e.nfFamily} ${e.nfTable} ${chain} ${nftMatch}`)}`], note}
  const keep = (what: string) => `${what} do not survive a restart of libvirt or of the firewall: keep them in a libvirt qemu hook for ${guest} (run on "start" and "reconnect", after libvirt made its rules), as the forward's DNAT is kept`
  if (e.libvirtOwned === true) {
    // libvirt's own reject: an accept ahead of it, never its deletion (it is what keeps NAT guests unreachable otherwise).
    if (e.backend === 'nft') return nftInsert(e.chain, [keep("Rules in libvirt's own table")])
    return {fix: [`${iptablesTool(e)} -I FORWARD 1 ${ipt}`], note: [keep('iptables rules')]}
  }
  if (e.nfTable === 'firewalld' || (managers.includes('firewalld') && e.backend === 'nft' && String(e.chain ?? '').startsWith('filter_'))) {
    const policy = `kvmdoctor-${guest}-${proto}${port}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 17)
    const zone = typeof e.firewalldZone === 'string' ? e.firewalldZone : 'libvirt'
    return {
      fix: [
        `firewall-cmd --permanent --new-policy ${q(policy)}`,
        `firewall-cmd --permanent --policy ${q(policy)} --add-ingress-zone ANY`,
        `firewall-cmd --permanent --policy ${q(policy)} --add-egress-zone ${q(zone)}`,
        `firewall-cmd --permanent --policy ${q(policy)} --add-rich-rule ${q(`rule family="ipv4" destination address="${addr}" port port="${port}" protocol="${proto}" accept`)}`,
        'firewall-cmd --reload',
      ],
      note: [`a firewalld policy from any zone to ${zone} (the zone of ${bridge}) that accepts only ${proto} ${addr}:${port}`],
    }
  }
  if (String(e.chain ?? '').startsWith('ufw-') || (managers.includes('ufw') && e.backend !== 'nft' && e.elementKind === 'nf-policy')) {
    return {
      fix: reply ? [`${iptablesTool(e)} -I ${q(e.baseChain)} ${ipt}`] : [`ufw route allow proto ${q(proto)} from any to ${q(addr)} port ${q(port)}`],
      note: reply ? [keep('iptables rules')] : ["ufw's route rule: it persists in /etc/ufw/user.rules"],
    }
  }
  if (managers.includes('docker') && host.dockerUserChain === true && e.backend !== 'nft') {
    // Docker's FORWARD policy DROP and its chains: DOCKER-USER is the place Docker leaves to the admin.
    return {fix: [`${iptablesTool(e)} -I DOCKER-USER ${ipt}`], note: [keep('iptables rules')]}
  }
  if (e.backend === 'nft') return nftInsert(e.baseChain, [`add it to the file that loads table ${e.nfFamily} ${e.nfTable} (e.g. /etc/nftables.conf) to keep it`])
  return {fix: [`${iptablesTool(e)} -I ${q(e.baseChain)} ${ipt}`], note: [keep('iptables rules')]}
}

/** A string in nft's syntax: double-quoted (nft has no escape for a double quote inside one: such a name cannot be written). */
const nftString = (s: string) => `"${s}"`
