#!/bin/sh
# What the kernel does with rules whose effect their listing does not show, and the listings kvmdoctor reads of them
# (../state.*). Namespaces: client c (10.1.0.2 and 10.1.0.3), router r, server s (10.2.0.2). The cases run on r's
# rules below; each line of ../state.kernel.txt is one case's outcome. Run as root: sh capture-state.sh OUTDIR
#   rewrite: `ip daddr set` in prerouting (stateless NAT) sends a ping for 10.2.0.99 to 10.2.0.2, where forward drops it
#   dport:   `tcp dport set 22` turns a connection to :8080 into one to :22, which forward drops
#   flood:   `add @flood { ip saddr limit rate over 10/second } drop` drops only over the rate: one ping passes
#   connlim: `add @cc { ip saddr ct count over 2 } drop`: the first connection passes
#   seen:    `update @seen { ip saddr }` then `ip saddr @seen accept` (policy drop): a packet's own update lets it in
#            (and `udp checksum set 0` in postrouting, IPv4's "no checksum", does not stop it)
#   (chain header_rewrites, hooked nowhere: rewrites that leave the path as it is, and one that does not)
#   ipset:   iptables `-j SET --add-set kd-seen src` then `-m set --match-set kd-seen src -j ACCEPT` (policy DROP): the same
#   ttl:     iptables mangle `-j TTL --ttl-set 1`: the router's forwarding drops the ping; `--ttl-set 64` passes it
# The nft listing is taken after the cases ran (@seen then holds 10.1.0.2, not 10.1.0.3); the iptables one before its case.
set -eu
out=${1:?usage: capture-state.sh OUTDIR}
C=kdst-c R=kdst-r S=kdst-s
for n in $C $R $S; do ip netns del $n 2>/dev/null || true; ip netns add $n; done
trap 'for n in $C $R $S; do ip netns del $n 2>/dev/null || true; done' EXIT
ip -n $R link add rc type veth peer name cr netns $C
ip -n $R link add rs type veth peer name sr netns $S
ip -n $R addr add 10.1.0.1/24 dev rc; ip -n $R addr add 10.2.0.1/24 dev rs
ip -n $C addr add 10.1.0.2/24 dev cr; ip -n $C addr add 10.1.0.3/24 dev cr; ip -n $S addr add 10.2.0.2/24 dev sr
for d in rc rs lo; do ip -n $R link set $d up; done
ip -n $C link set cr up; ip -n $C link set lo up; ip -n $S link set sr up; ip -n $S link set lo up
ip -n $C route add default via 10.1.0.1; ip -n $S route add default via 10.2.0.1
ip netns exec $R sysctl -qw net.ipv4.ip_forward=1
ping_s() { ip netns exec $C ping -c1 -W1 "$2" >/dev/null 2>&1 && echo "$1: passes" || echo "$1: dropped"; }
tcp_s() { # tcp_s CASE DIALLED LISTENING: a server on s:LISTENING, the client dials s:DIALLED
  ip netns exec $S sh -c "timeout 3 nc -l -p $3 -q0 </dev/null >/dev/null 2>&1 &"
  sleep 0.3
  ip netns exec $C sh -c "timeout 2 nc -w1 -z 10.2.0.2 $2" >/dev/null 2>&1 && echo "$1: connects" || echo "$1: fails"
}
udp_s() { # udp_s CASE SOURCE: one datagram from SOURCE to s:53
  got=$(mktemp)
  ip netns exec $S sh -c "timeout 2 nc -u -l -p 53 > $got 2>/dev/null &"
  sleep 0.3
  echo hello | ip netns exec $C nc -u -w1 -s "$2" 10.2.0.2 53 >/dev/null 2>&1 || true
  sleep 0.5
  grep -q hello "$got" && echo "$1: arrives" || echo "$1: dropped"
  rm -f "$got"
}
ping_s 'plain ping 10.2.0.2 (no rules)' 10.2.0.2
ip netns exec $R nft -f - <<'NFT'
table ip kd_state {
	set flood { type ipv4_addr; flags dynamic,timeout; timeout 1h; }
	set cc { type ipv4_addr; flags dynamic; }
	set seen { type ipv4_addr; flags dynamic,timeout; timeout 1h; }
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		ip daddr 10.2.0.99 ip daddr set 10.2.0.2 notrack
		tcp dport 8080 tcp dport set 22 notrack
	}
	chain header_rewrites {
		ip ttl set 1
		ip ttl set 64
		ip dscp set cs1
	}
	chain post {
		type filter hook postrouting priority mangle; policy accept;
		udp dport 53 udp checksum set 0
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ip daddr 10.2.0.2 icmp type echo-request ct state untracked counter drop
		tcp dport 22 counter drop
		icmp type echo-request add @flood { ip saddr limit rate over 10/second } counter drop
		meta l4proto tcp ct state new add @cc { ip saddr ct count over 2 } counter drop
		update @seen { ip saddr }
		ip saddr @seen counter accept
	}
}
NFT
ping_s 'rewrite: ping 10.2.0.99, rewritten to 10.2.0.2 in prerouting, meets `ip daddr 10.2.0.2 ... ct state untracked drop`' 10.2.0.99
tcp_s 'dport: tcp to 10.2.0.2:8080, rewritten to :22 in prerouting, meets `tcp dport 22 drop`' 8080 22
ping_s 'flood: ping 10.2.0.2 from 10.1.0.2 (one packet, under 10/second)' 10.2.0.2
tcp_s 'connlim: tcp to 10.2.0.2:23 from 10.1.0.2 (the first connection, under 2)' 23 23
udp_s 'seen: udp to 10.2.0.2:53 from 10.1.0.3 (not in @seen before it came)' 10.1.0.3
ip netns exec $R nft list set ip kd_state seen | grep -q '10.1.0.3' && echo 'seen: @seen now holds 10.1.0.3 too'
# The listing of the state the cases left, but for 10.1.0.3 (as a host listed before 10.1.0.3 sent anything).
ip netns exec $R nft delete element ip kd_state seen '{ 10.1.0.3 }' 2>/dev/null || true
ip netns exec $R nft -j list ruleset > "$out/state.nft-j-list-ruleset.json"
ip netns exec $R nft -a list ruleset > "$out/state.nft-a-list-ruleset.txt"
ip netns exec $R nft flush ruleset
ip netns exec $R ipset create kd-seen hash:ip timeout 3600
ip netns exec $R iptables-restore <<'IPT'
*filter
:FORWARD DROP [0:0]
-A FORWARD -j SET --add-set kd-seen src
-A FORWARD -m set --match-set kd-seen src -j ACCEPT
COMMIT
IPT
ip netns exec $R ipset list > "$out/state.ipset-list.txt"
ip netns exec $R iptables-save -c > "$out/state.iptables-save-c.txt"
ping_s 'ipset: ping 10.2.0.2 (-j SET --add-set fills kd-seen, -m set accepts)' 10.2.0.2
# A TTL set to 1 in mangle PREROUTING: the router's own forwarding drops the ping (time exceeded); set to 64 it passes.
ip netns exec $R iptables -t mangle -A PREROUTING -p icmp -j TTL --ttl-set 1
ip netns exec $R iptables-save -t mangle > "$out/state-ttl.iptables-save.txt"
ping_s 'ttl: ping 10.2.0.2 through mangle PREROUTING -j TTL --ttl-set 1' 10.2.0.2
ip netns exec $R iptables -t mangle -R PREROUTING 1 -p icmp -j TTL --ttl-set 64
ping_s 'ttl: ping 10.2.0.2 through mangle PREROUTING -j TTL --ttl-set 64' 10.2.0.2
