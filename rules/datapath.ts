/** What the rules on datapath elements share: the probes the datapath needs, and the commands that change netfilter elements. */
import type {Element} from '../src/datapath/elements.js'
import type {ElementView, HostView} from '../src/derive/index.js'
import {type ChainOwner, catchAllText, chainOwnerOf, iptablesWords, nwfilterTap, saveSyntaxTool} from '../src/lib/netfilter.js'

export {nwfilterTap}

/** The words of an iptables-save line, for the rules that rebuild one (they read views, not the netfilter library). */
export {iptablesWords}
import {type FixStep, type Steps, cmd, nftString, probes} from './kit.js'

/** Without any of these the flows cannot be followed: such rules are "not checked". */
export const DATAPATH = [probes.netfilter, probes.routes, probes.ipRules, probes.links, probes.sysctl, probes.libvirt]

/** The tool that edits an iptables element's table (iptables, ip6tables, their legacy twins; legacy ebtables' command). */
export const iptablesTool = (e: {backend?: string | null; family?: string | null; command?: string}): string => saveSyntaxTool(e.backend, e.family, e.command)

/** The tool of an element's view (its family is `nfFamily` there). */
export const toolOfView = (e: ElementView) => iptablesTool({backend: e.backend, family: e.nfFamily, command: e.element.command})


/** Who owns a netfilter element's chain: a firewall manager rewrites it on reload, libvirt re-creates its own. */
export const chainOwner = (el: Element): ChainOwner => chainOwnerOf(el.nfTable, el.chain, el.libvirtOwned)

/**
 * What undoes an element by itself (the trace's undo): only an admin's own rule is deleted, and not
 * its catch-all (that opens the chain to everything). A chain policy, libvirt's rules and a firewall
 * manager's rules (its catch-all reject included) are never deleted or opened: the finding's fix adds
 * the narrowest accept in the manager's place instead.
 */
export function netfilterUndo(el: Element): FixStep[] {
  if ((el.kind !== 'nf-rule' && el.kind !== 'snat-address') || el.ruleText === undefined || chainOwner(el) !== 'admin') return []
  if (catchAllText(el.ruleText, el.nftSyntax === true)) return []
  if (el.nftSyntax) return el.handle !== undefined ? (cmd`nft delete rule ${el.family} ${el.nfTable} ${el.chain} handle ${el.handle}` ?? []) : []
  // Deleting by specification is iptables-save's line with -D.
  const words = iptablesWords(el.ruleText)
  if (words[0] !== '-A') return []
  return [{argv: [iptablesTool(el), '-t', el.nfTable ?? 'filter', '-D', ...words.slice(1)]}]
}

/** The guest traffic a drop stops, by hook: forwarded traffic from and back to the bridge, or DHCP and DNS to the host. */
type Traffic = 'forward' | 'input'

/**
 * What a forward accept for BRIDGE admits from: its libvirt subnets in the element's families (an inet chain sees
 * both), as libvirt's own LIBVIRT_FWO does (a guest sending from another address stays refused); `undefined`
 * (anything on it) for a bridge whose guests' subnets are not known (a LAN's bridge, no subnet of that family).
 */
function sourcesOf(e: ElementView, bridge: string): (string | undefined)[] {
  const subnets = (e.bridgeSubnets[bridge] ?? []).filter((s) => e.nfFamily === 'inet' || s.includes(':') === (e.nfFamily === 'ip6'))
  return subnets.length > 0 ? subnets : [undefined]
}

/**
 * Frames BRIDGE forwards (br_netfilter's FORWARD sees them in and out by the bridge), both ways, and nothing the host
 * routes from or to it: an accept by `-i` alone would also open the host's routing for whatever sits on that LAN.
 */
export const bridgedAccept = (tool: string, table: string, place: string[] | undefined, bridge: string) => (place ? cmd`${tool} -t ${table} ${place} -i ${bridge} -o ${bridge} -j ACCEPT` : undefined)

/**
 * Where an accept goes in CHAIN to take only what reaches the element there: just before the dropping rule (the rules
 * before it keep deciding: an accept at the chain's top would let the guests past the admin's earlier drops, libvirt's
 * nwfilter jumps, Docker's chains; one appended after the drop would never be reached); for a chain's policy, at the
 * chain's end, or before its first return (a packet returned from a base chain meets the policy, not the end). In a
 * chain the element is not in (DOCKER-USER, the admin's place before Docker's), at its top. Undefined (the line is
 * left out) where that place is not known (an nft rule whose handle is not).
 */
function acceptPlace(el: Element, chain: string | null | undefined): {at: 'top' | 'end'} | {before: {rule: number; handle?: number}} | undefined {
  if (chain === null || chain === undefined) return undefined
  if (chain !== el.chain || (el.kind !== 'nf-rule' && el.kind !== 'nf-policy')) return {at: 'top'}
  if (el.acceptBefore) return {before: el.acceptBefore}
  return el.kind === 'nf-policy' ? {at: 'end'} : undefined
}

/** The place as iptables words: -I CHAIN N, -A CHAIN, -I CHAIN. */
export function iptablesPlace(el: Element, chain: string | null | undefined): string[] | undefined {
  const place = acceptPlace(el, chain)
  if (!place || !chain) return undefined
  return 'before' in place ? ['-I', chain, String(place.before.rule)] : place.at === 'end' ? ['-A', chain] : ['-I', chain]
}

/** The place in CHAIN as nft words around family, table and chain: the verb (insert, add) and what follows the chain (position HANDLE). */
export function nftPlace(el: Element, chain: string | null | undefined = el.chain): {verb: string; at: string[]} | undefined {
  const place = acceptPlace(el, chain)
  if (!place) return undefined
  if ('before' in place) return place.before.handle === undefined ? undefined : {verb: 'insert', at: ['position', String(place.before.handle)]}
  return {verb: place.at === 'end' ? 'add' : 'insert', at: []}
}

/**
 * The narrowest accept for the guests' traffic on their bridges, in the place the chain's owner
 * leaves for it: firewalld's libvirt zone, ufw route/allow rules, Docker's DOCKER-USER, else the
 * top of the chain that drops (an nft insert, an iptables -I): never a policy changed or a rule deleted.
 * libvirt's own reject is what a misconfigured network produces: the network's finding fixes it.
 */
export function narrowAccept(e: ElementView, host: HostView, traffic: Traffic): Steps[] {
  const owner = chainOwner(e.element)
  if (owner === 'libvirt') return []
  const six = e.nfFamily === 'ip6'
  // A bridge of no libvirt network (a host bridge: the LAN's, often the host's own uplink) is not the guests' alone:
  // a manager's accept by that device alone opens it for the whole LAN.
  const libvirtBridges = e.bridges.filter((br) => (e.bridgeSubnets[br] ?? []).length > 0)
  if (owner === 'firewalld') {
    // The libvirt zone is libvirt's networks' (it accepts forwarding and DHCP, DNS, SSH in): a LAN bridge moved there
    // would take its whole LAN with it. A bridged-only drop on a host bridge is bridge-netfilter-enabled's to fix.
    return libvirtBridges.flatMap((br) => [cmd`firewall-cmd --zone=libvirt --change-interface=${br}`, cmd`firewall-cmd --permanent --zone=libvirt --change-interface=${br}`])
  }
  if (owner === 'ufw') {
    // Answers need no rule of their own: ufw's before.rules accepts RELATED,ESTABLISHED in ufw-before-forward, and
    // `route allow out on BRIDGE` would admit new connections to the guests from anywhere. Frames a bridge forwards
    // are allowed from the bridge to itself, as bridgedAccept does: `in on` alone would route the LAN anywhere.
    if (traffic === 'forward' && e.bridgedOnly) return e.bridges.map((br) => cmd`ufw route allow in on ${br} out on ${br}`)
    return libvirtBridges.flatMap((br) =>
      traffic === 'forward'
        ? sourcesOf(e, br).map((s) => cmd`ufw route allow in on ${br} ${s ? ['from', s] : []}`)
        : [cmd`ufw allow in on ${br} to any port 67 proto udp`, cmd`ufw allow in on ${br} to any port 53`],
    )
  }
  const chain = e.baseChain ?? e.chain
  const nft = nftPlace(e.element)
  const verb = nft?.verb
  const at = nft?.at
  // An arp chain (arptables-nft, an nft arp table) sees ARP alone: the accept is for ARP on the bridge, by its device.
  if (e.nfFamily === 'arp') return e.bridges.map((br) => cmd`nft ${verb} rule arp ${e.nfTable} ${e.element.chain} ${at} ${e.hook === 'output' ? 'oifname' : 'iifname'} ${nftString(br)} accept`)
  if (e.element.nftSyntax) {
    return e.bridges.flatMap((br) => {
      const name = nftString(br)
      if (traffic === 'forward') {
        if (e.bridgedOnly) return [cmd`nft ${verb} rule ${e.nfFamily} ${e.nfTable} ${e.element.chain} ${at} iifname ${name} oifname ${name} accept`]
        return sourcesOf(e, br).flatMap((s) => {
          const ip = s?.includes(':') ? 'ip6' : 'ip'
          return [
            cmd`nft ${verb} rule ${e.nfFamily} ${e.nfTable} ${e.element.chain} ${at} iifname ${name} ${s ? [ip, 'saddr', s] : []} accept`,
            cmd`nft ${verb} rule ${e.nfFamily} ${e.nfTable} ${e.element.chain} ${at} oifname ${name} ${s ? [ip, 'daddr', s] : []} ct state related,established accept`,
          ]
        })
      }
      return [cmd`nft ${verb} rule ${e.nfFamily} ${e.nfTable} ${e.element.chain} ${at} iifname ${name} udp dport '{ 53, 67 }' accept`, cmd`nft ${verb} rule ${e.nfFamily} ${e.nfTable} ${e.element.chain} ${at} iifname ${name} tcp dport 53 accept`]
    })
  }
  const tool = toolOfView(e)
  const table = e.nfTable ?? 'filter'
  // An accept must come before Docker's jumps: DOCKER-USER is the chain Docker leaves to the admin.
  const target = traffic === 'forward' && !six && host.dockerUserChain && table === 'filter' ? 'DOCKER-USER' : owner === 'docker' ? 'DOCKER-USER' : e.element.kind === 'nf-policy' ? chain : e.element.chain
  const place = iptablesPlace(e.element, target)
  return e.bridges.flatMap((br) =>
    traffic === 'forward'
      ? e.bridgedOnly
        ? [bridgedAccept(tool, table, place, br)]
        : sourcesOf(e, br).flatMap((s) => [
            cmd`${tool} -t ${table} ${place} ${s ? ['-s', s] : []} -i ${br} -j ACCEPT`,
            cmd`${tool} -t ${table} ${place} ${s ? ['-d', s] : []} -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
          ])
      : [cmd`${tool} -t ${table} ${place} -i ${br} -p udp -m multiport --dports 53,67 -j ACCEPT`, cmd`${tool} -t ${table} ${place} -i ${br} -p tcp --dport 53 -j ACCEPT`],
  )
}

/** The command that lists a netfilter element's chain, with the tool that can read its table (nft for native and incompatible tables). */
export function listChainOf(el: Element): FixStep[] | undefined {
  if (el.nfTable === undefined || el.chain === undefined) return undefined
  if (el.nftSyntax) return cmd`nft -a list chain ${el.family} ${el.nfTable} ${el.chain}`
  // ebtables has no --list-rules: -L prints the chain's rules in the options they are written with.
  return el.backend === 'ebtables-legacy' ? cmd`${iptablesTool(el)} -t ${el.nfTable} -L ${el.chain}` : cmd`${iptablesTool(el)} -t ${el.nfTable} --list-rules ${el.chain}`
}

/**
 * A drop on the input or forward hook of a filter chain: where an accept lets the guests' traffic on and skips nothing
 * else. Not the bridge family's: its devices are the ports and its input hook takes every frame to the host, routed
 * ones too, so the IP accept (the bridge, DHCP and DNS) would not let the guests' traffic on: the admin's rule is undone.
 */
export const filterDrop = (e: ElementView) =>
  (e.elementKind === 'nf-rule' || e.elementKind === 'nf-policy') && (e.hook === 'input' || e.hook === 'forward') && e.nfFamily !== 'bridge' && (e.element.nftSyntax === true || e.nfTable === 'filter')

/** A netfilter rule or chain policy (not one whose match could not be told). */
export const netfilterElement = (e: ElementView) => e.elementKind === 'nf-rule' || e.elementKind === 'nf-policy'
/**
 * A rule or policy of libvirt's nwfilter (iptables FI-/FO-/HI-TAP, ebtables libvirt-I-TAP ...): the domain's filter
 * decides there, not a firewall manager's or the admin's ruleset; guest-flow-blocked's note names the filter to change.
 */
export const nwfilterElement = (e: ElementView) => netfilterElement(e) && chainOwner(e.element) === 'libvirt' && nwfilterTap(e.element.chain) !== undefined
