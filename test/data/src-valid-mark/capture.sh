#!/bin/sh
# Real output of a multi-WAN host for test/datapath/flows.test.ts (src_valid_mark; iproute2 6.1, nft 1.0.6, kernel
# 6.18): the guest's packets are marked 2 in mangle prerouting (ct mark, restored on the replies), "fwmark 0x2 lookup
# 100" sends them out WAN2 (eth1), masqueraded; strict rp_filter everywhere. Run as root from this directory: it builds
# four namespaces (host, guest, two upstreams), pings from the guest with src_valid_mark off and on, table 100
# without and with the guest subnet, captures the host's reads (table 100 with the guest subnet) and removes them.
# Observed:
#   without the guest subnet, src_valid_mark=0: request reaches WAN2, the reply is dropped (reverse path, eth1)
#   without the guest subnet, src_valid_mark=1: the request is dropped (reverse path, virbr0)
#   with the guest subnet,    src_valid_mark=0: request reaches WAN2, the reply is dropped (reverse path, eth1)
#   with the guest subnet,    src_valid_mark=1: answered, no reverse-path drop
set -eu
H=kdr12h; W2=kdr12w2; G=kdr12g; W1=kdr12w1
cleanup(){ for n in $H $W1 $W2 $G; do ip netns del $n 2>/dev/null || true; done; }
cleanup
for n in $H $W1 $W2 $G; do ip netns add $n; ip -n $n link set lo up; done
ip link add r12e0 netns $H type veth peer name r12w1 netns $W1
ip link add r12e1 netns $H type veth peer name r12w2 netns $W2
ip link add r12v0 netns $H type veth peer name r12g0 netns $G
ip -n $H link set r12e0 name eth0; ip -n $H link set r12e1 name eth1; ip -n $H link set r12v0 name vnet0
ip -n $H link add virbr0 type bridge; ip -n $H link set vnet0 master virbr0
ip -n $H link set vnet0 address fe:54:00:00:00:01
ip -n $H addr add 198.51.100.2/24 dev eth0; ip -n $H addr add 10.1.0.1/24 dev eth1; ip -n $H addr add 192.168.122.1/24 dev virbr0
for d in eth0 eth1 virbr0 vnet0; do ip -n $H link set $d up; done
ip -n $G link set r12g0 address 52:54:00:00:00:01; ip -n $G addr add 192.168.122.50/24 dev r12g0; ip -n $G link set r12g0 up; ip -n $G route add default via 192.168.122.1
ip -n $W1 addr add 198.51.100.1/24 dev r12w1; ip -n $W1 link set r12w1 up
ip -n $W2 addr add 10.1.0.254/24 dev r12w2; ip -n $W2 link set r12w2 up; ip -n $W2 addr add 203.0.113.10/32 dev lo
ip -n $H route add default via 198.51.100.1 dev eth0
ip -n $H route add default via 10.1.0.254 dev eth1 table 100
ip -n $H rule add priority 100 fwmark 0x2 lookup 100
ip netns exec $H sysctl -qw net.ipv4.ip_forward=1
for d in all eth0 eth1 virbr0; do ip netns exec $H sysctl -qw net.ipv4.conf.$d.rp_filter=1; done
ip netns exec $H nft -f - <<'NFT'
table ip mangle {
  chain prerouting { type filter hook prerouting priority mangle; policy accept;
    iifname "virbr0" ct mark set 0x2
    meta mark set ct mark
  }
}
table ip nat {
  chain postrouting { type nat hook postrouting priority srcnat; policy accept;
    ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 masquerade
  }
}
NFT
ip netns exec $W2 nft add table ip c; ip netns exec $W2 nft add chain ip c in '{ type filter hook input priority 0; }'; ip netns exec $W2 nft add rule ip c in icmp type echo-request counter
seen(){ ip netns exec $W2 nft list chain ip c in | grep -o 'packets [0-9]*' | cut -d' ' -f2; }
nstat_rpf(){ ip netns exec $H nstat -az TcpExtIPReversePathFilter | awk '/IPReversePathFilter/{print $2}'; }
try(){ # src_valid_mark label
  ip netns exec $H sysctl -qw net.ipv4.conf.all.src_valid_mark=$1
  b=$(nstat_rpf); s=$(seen)
  if ip netns exec $G ping -c2 -W1 -i0.3 203.0.113.10 >/dev/null 2>&1; then r=answered; else r=unanswered; fi
  echo "$2, src_valid_mark=$1: ping $r, requests reaching WAN2 $(( $(seen) - s )), reverse-path drops $(( $(nstat_rpf) - b ))"
}
try 0 "table 100 without the guest subnet"
try 1 "table 100 without the guest subnet"
ip -n $H route add 192.168.122.0/24 dev virbr0 table 100
try 0 "table 100 with the guest subnet"
try 1 "table 100 with the guest subnet"
ip -n $H -j -d addr show > addr.json
ip -n $H -j route show table all > route.json
ip -n $H -j rule show > rule.json
ip netns exec $H nft list table ip mangle > mangle.nft
uname -r
cleanup
