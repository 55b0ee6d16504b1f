/**
 * Matches that look a route up: nft `fib saddr [. mark] [. iif] oif` (NixOS's and firewalld's reverse-path filters)
 * and iptables -m rpfilter, decided from the host's routes and policy rules the way the kernel decides them
 * (nft_fib4_eval, rpfilter_mt; observed in network namespaces: see each case). Each rule is read by the real parsers
 * and ends in drop: drop = matched, accept = not, both = undecided.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseIptablesRuleOptions} from '../../probes/netfilter/iptables-save.js'
import {parseNftRuleExprs} from '../../probes/netfilter/nft-json.js'
import {parseRuleText} from '../../probes/netfilter/nft-text.js'
import {renderRule} from '../../probes/netfilter/render.js'
import {type PolicyRule, parseIpRules} from '../../probes/ip-rules.js'
import {type Route, parseIpRoute} from '../../probes/routes.js'
import {compile} from '../../src/datapath/netfilter/compile.js'
import {type EvalContext, runHook, startBranch} from '../../src/datapath/netfilter/evaluate.js'
import {type NfPacket, newPacket} from '../../src/datapath/netfilter/packet.js'
import {buildRouter, routeLookupOf} from '../../src/datapath/routing.js'
import type {NfExpr, NfHook} from '../../src/lib/netfilter.js'
import {ipt, nft, ruleset} from './builders.js'
import {ROOT} from '../helpers.js'

const route = (dst: string, over: Partial<Route> = {}): Route => ({family: 'inet', dst, type: 'unicast', table: 'main', metric: 0, nexthops: [], ...over})
// The namespace experiment's host: a0 (10.1.0.0/24) and b0 (10.2.0.0/24); 172.16/16 routed back via b0; 10.7/24 over
// both (multipath); 10.8/24 via b0, but via a0 for mark 5 (table 100); 10.6/24 unreachable; 10.2.0.1 its own.
const ROUTES: Route[] = [
  route('10.1.0.0/24', {dev: 'a0', scope: 'link'}),
  route('10.2.0.0/24', {dev: 'b0', scope: 'link'}),
  route('172.16.0.0/16', {dev: 'b0', gateway: '10.2.0.2'}),
  route('10.7.0.0/24', {nexthops: [{gateway: '10.1.0.2', dev: 'a0'}, {gateway: '10.2.0.2', dev: 'b0'}]}),
  route('10.8.0.0/24', {dev: 'b0', gateway: '10.2.0.2'}),
  route('10.8.0.0/24', {dev: 'a0', gateway: '10.1.0.2', table: '100'}),
  route('10.6.0.0/24', {type: 'unreachable'}),
  route('10.2.0.1', {type: 'local', dev: 'b0', table: 'local'}),
  route('10.1.0.1', {type: 'local', dev: 'a0', table: 'local'}),
]
const rule = (priority: number, table: string, over: Partial<PolicyRule> = {}): PolicyRule => ({family: 'inet', priority, src: 'all', dst: 'all', not: false, action: 'lookup', table, text: `${priority}: lookup ${table}`, ...over})
const RULES = {inet: [rule(0, 'local'), rule(100, '100', {fwmark: 5}), rule(32766, 'main'), rule(32767, 'default')], inet6: []}

const router = buildRouter(ROUTES, RULES)
const ctx: EvalContext = {addressType: () => ['unicast'], addressOf: () => undefined, routeLookup: (q) => routeLookupOf(router, q)}
const ping = (src: string, over: Partial<NfPacket> = {}): NfPacket => newPacket({family: 4, iifname: 'a0', src, dst: '10.1.0.1', l4proto: 'icmp', icmpType: 8, ...over})
const MATCH = ['drop']
const MISS = ['accept']
const UNDECIDED = ['accept', 'drop']

function nftRule(text: string): NfExpr[] {
  return parseNftRuleExprs(parseRuleText(text).expr, {family: 'inet', table: 't'}).exprs
}

function verdict(exprs: NfExpr[], packet: NfPacket, opts: {hook?: NfHook; iptables?: boolean; context?: EvalContext} = {}): string[] {
  const hook = opts.hook ?? 'prerouting'
  const table = opts.iptables ? ipt('mangle', {[hook.toUpperCase()]: [exprs]}) : nft('inet', 't', {c: {base: {hook, priority: -150}, rules: [exprs]}})
  return runHook(compile(ruleset([table])), hook, 'ip', [startBranch(packet)], opts.context ?? ctx)
    .map((b) => b.status)
    .sort()
}

describe('nft fib ... oif (reverse-path filters)', () => {
  const strict = nftRule('fib saddr . iif oif missing drop')

  it('is read as a route lookup, and written back as nft writes it', () => {
    expect(renderRule({exprs: strict})).toBe('fib saddr . iif oif missing drop')
    expect(renderRule({exprs: nftRule('fib saddr . mark . iif oif exists drop')})).toBe('fib saddr . mark . iif oif exists drop')
    expect(renderRule({exprs: nftRule('fib daddr oif "b0" drop')})).toBe('fib daddr oif b0 drop')
  })

  it('strict (. iif): missing when the route back to the source leaves by another device, has none, or is the host', () => {
    expect(verdict(strict, ping('10.1.0.2'))).toEqual(MISS)
    // Observed: 172.16.0.5 on a0, routed back via b0: missing; 10.9.0.5, no route at all: missing.
    expect(verdict(strict, ping('172.16.0.5'))).toEqual(MATCH)
    expect(verdict(strict, ping('10.9.0.5'))).toEqual(MATCH)
    // An unreachable route, and a source that is one of the host's own addresses (RTN_LOCAL): missing.
    expect(verdict(strict, ping('10.6.0.5'))).toEqual(MATCH)
    expect(verdict(strict, ping('10.2.0.1'))).toEqual(MATCH)
    // A multipath route counts every next hop: a0 is one of them.
    expect(verdict(strict, ping('10.7.0.5'))).toEqual(MISS)
    // DHCP's discover from 0.0.0.0 to the broadcast: the input device, never missing.
    expect(verdict(strict, newPacket({family: 4, iifname: 'a0', src: '0.0.0.0', dst: '255.255.255.255', l4proto: 'udp', sport: 68, dport: 67}))).toEqual(MISS)
  })

  it('the mark counts only with `. mark` (policy routing by fwmark)', () => {
    const marked = ping('10.8.0.5', {mark: 5})
    expect(verdict(strict, marked)).toEqual(MATCH)
    expect(verdict(nftRule('fib saddr . mark . iif oif missing drop'), marked)).toEqual(MISS)
    // A mark set outside the path, read by a policy rule: the lookup cannot be told.
    expect(verdict(nftRule('fib saddr . mark . iif oif missing drop'), ping('10.8.0.5', {mark: 'unknown'}))).toEqual(UNDECIDED)
  })

  it('without iif: the device of the route (its first next hop); in forward, the lookup with iif carries the output device', () => {
    expect(verdict(nftRule('fib saddr oif "b0" drop'), ping('172.16.0.5'))).toEqual(MATCH)
    expect(verdict(nftRule('fib saddr oif "a0" drop'), ping('10.7.0.5'))).toEqual(MATCH)
    expect(verdict(nftRule('fib saddr oif "b0" drop'), ping('10.7.0.5'))).toEqual(MISS)
    expect(verdict(nftRule('fib saddr oif missing drop'), ping('172.16.0.5'))).toEqual(MISS)
    const forwarded = ping('10.1.0.2', {dst: '10.2.0.2', oifname: 'b0'})
    expect(verdict(strict, forwarded, {hook: 'forward'})).toEqual(MISS)
    expect(verdict(nftRule('fib daddr . iif oif missing drop'), forwarded, {hook: 'forward'})).toEqual(MATCH)
    expect(verdict(nftRule('fib daddr oif "b0" drop'), forwarded, {hook: 'forward'})).toEqual(MATCH)
  })

  it('in input, a connection\'s later packets may skip the lookup (newer kernels answer with the input device): undecided where that differs', () => {
    // Observed on 6.18 (kernel differential, seed 35): TCP data to the host's own address met 'fib daddr . iif oif exists drop'
    // in input and was dropped, while its SYN (no socket yet) was looked up: the local route, missing, not dropped.
    const toHost = (over: Partial<NfPacket> = {}) => ping('10.1.0.2', {dst: '10.1.0.1', l4proto: 'tcp', icmpType: undefined, sport: 40000, dport: 8080, ...over})
    const exists = nftRule('fib daddr . iif oif exists drop')
    expect(verdict(exists, toHost(), {hook: 'input'})).toEqual(MISS)
    const established: NfPacket = {...toHost(), tcpFlags: 0x10, ct: {state: 'established', status: [], direction: 'original', mark: 0}}
    expect(verdict(exists, established, {hook: 'input'})).toEqual(UNDECIDED)
    // Where the lookup itself answers the input device, both kernels agree.
    expect(verdict(strict, established, {hook: 'input'})).toEqual(MISS)
  })

  it('undecided where the routes are not known, never a guess', () => {
    const blind: EvalContext = {addressType: () => ['unicast'], addressOf: () => undefined}
    expect(verdict(strict, ping('172.16.0.5'), {context: blind})).toEqual(UNDECIDED)
    expect(verdict(strict, ping('10.1.0.2'), {context: blind})).toEqual(UNDECIDED)
  })

  it('a route by nexthop object listed without its device (nexthop_compat_mode 0) is undecided, not missing', () => {
    // test/data/unread-hops/capture.sh: `default nhid 1` (via 10.5.0.2 dev da); the kernel passed a ping from 8.8.8.8
    // arriving by da through `fib saddr . iif oif missing drop` in both modes (it was a drop by mode 0's listing).
    const byListing = (mode: 0 | 1): EvalContext => {
      const routes = parseIpRoute(readFileSync(join(ROOT, `test/data/unread-hops/route-nhid-compat${mode}.json`), 'utf8'))
      return {...ctx, routeLookup: (q) => routeLookupOf(buildRouter(routes, RULES), q)}
    }
    const fromFar = ping('8.8.8.8', {iifname: 'da', dst: '10.5.0.1'})
    expect(verdict(strict, fromFar, {context: byListing(1)})).toEqual(MISS)
    expect(verdict(strict, fromFar, {context: byListing(0)})).toEqual(UNDECIDED)
  })
})

describe('iptables -m rpfilter', () => {
  const ipt4 = (options: string) => parseIptablesRuleOptions(`-m rpfilter ${options} -j DROP`).exprs

  // Observed with iptables-nft in a namespace: which sources each option set lets match (counters).
  it.each([
    ['', {'10.1.0.2': true, '172.16.0.5': false, '10.9.0.5': false, '10.7.0.5': true, '10.8.0.5': false, '10.2.0.1': false}],
    ['--loose', {'10.1.0.2': true, '172.16.0.5': true, '10.9.0.5': false, '10.7.0.5': true, '10.8.0.5': true, '10.2.0.1': false}],
    ['--validmark', {'10.1.0.2': true, '172.16.0.5': false, '10.9.0.5': false, '10.7.0.5': true, '10.8.0.5': true, '10.2.0.1': false}],
    ['--accept-local', {'10.1.0.2': true, '172.16.0.5': false, '10.9.0.5': false, '10.7.0.5': true, '10.8.0.5': false, '10.2.0.1': false}],
    ['--loose --accept-local', {'10.1.0.2': true, '172.16.0.5': true, '10.9.0.5': false, '10.7.0.5': true, '10.8.0.5': true, '10.2.0.1': true}],
  ])('-m rpfilter %s', (options, matches) => {
    for (const [src, hit] of Object.entries(matches)) {
      // Every packet carried mark 5 (MARK in mangle PREROUTING before the rpfilter rules).
      expect(verdict(ipt4(options), ping(src, {mark: 5}), {iptables: true}), `${src}`).toEqual(hit ? MATCH : MISS)
      expect(verdict(ipt4(`${options} --invert`), ping(src, {mark: 5}), {iptables: true}), `${src} --invert`).toEqual(hit ? MISS : MATCH)
    }
  })

  it('broadcast and multicast frames pass without a lookup; options it does not know leave it opaque', () => {
    expect(verdict(ipt4('--invert'), ping('10.9.0.5', {pkttype: 'broadcast'}), {iptables: true})).toEqual(MISS)
    expect(ipt4('--bogus')[0].kind).toBe('opaque')
    expect(renderRule({exprs: ipt4('--loose --invert')})).toBe('-m rpfilter --loose --invert drop')
  })
})

describe('policy rules as the kernel runs them (ip -j rule show, read by the real parser; observed with `ip route get` in a namespace)', () => {
  const MAIN = [route('default', {dev: 'a0', gateway: '10.1.0.2'}), route('10.1.0.0/24', {dev: 'a0', scope: 'link'}), route('10.6.0.0/24', {type: 'unreachable', table: '100'})]
  const rules = (json: object[]) => ({inet: parseIpRules(JSON.stringify([{priority: 0, src: 'all', table: 'local'}, ...json, {priority: 32766, src: 'all', table: 'main'}]), 'inet'), inet6: []})
  const to = (json: object[], q: Partial<Parameters<ReturnType<typeof buildRouter>['lookup']>[0]> = {}) => buildRouter(MAIN, rules(json)).lookup({family: 4, dst: '10.6.0.9', iif: 'lo', mark: 0, ...q}).kind

  it('a goto whose target priority holds no rule is unresolved: the search goes on with the next rule, not the next priority up', () => {
    // 100 goto 200 [unresolved], 150 lookup 100: `ip route get 10.6.0.9` answers "No route to host" (table 100's unreachable).
    const unresolved = [{priority: 100, src: 'all', goto: 200, unresolved: null}, {priority: 150, src: 'all', table: '100'}]
    expect(to(unresolved)).toBe('unreachable')
    // With a rule at 200 the goto skips 150.
    expect(to([...unresolved, {priority: 200, src: 'all', table: 'main'}])).toBe('unicast')
    // A goto beyond every rule is unresolved too: the search goes on to main.
    expect(to([{priority: 100, src: 'all', goto: 40000, unresolved: null}])).toBe('unicast')
  })

  it('a nop rule (printed as "nop": null, no action, no table) does nothing: it is no lookup of main', () => {
    const nop = [{priority: 100, src: 'all', iif: 'lo', nop: null}, {priority: 150, src: 'all', table: '100'}]
    expect(parseIpRules(JSON.stringify(nop), 'inet')[0]).toMatchObject({action: 'nop', text: '100: from all iif lo nop'})
    expect(to(nop)).toBe('unreachable')
  })

  it('reads sport and dport ranges (sport_start/sport_end): a port outside the range does not match, one drawn by NAT is not told', () => {
    const ranged = [{priority: 300, src: 'all', ipproto: 'tcp', dport_start: 80, dport_end: 90, table: '100'}]
    expect(parseIpRules(JSON.stringify(ranged), 'inet')[0]).toMatchObject({dport: 80, dportEnd: 90, text: '300: from all ipproto tcp dport 80-90 lookup 100'})
    expect(to(ranged, {l4proto: 'tcp', sport: 40000, dport: 85})).toBe('unreachable')
    expect(to(ranged, {l4proto: 'tcp', sport: 40000, dport: 8080})).toBe('unicast')
    expect(to(ranged, {l4proto: 'tcp', sport: 40000, dport: undefined})).toBe('unknown')
    expect(to([{priority: 300, src: 'all', sport_start: 1000, sport_end: 2000, table: '100'}], {l4proto: 'udp', sport: 40000, dport: 53})).toBe('unicast')
  })
})
