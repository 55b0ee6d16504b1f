#!/usr/bin/env bash
# Paired text and JSON listings of one network state, from the iproute2 on this machine, for the
# text parsers the sosreport reader uses (sos records `ip -d address`, `ip route show table all`,
# `ip -s -s neigh show`, `ip -4 rule`, `bridge -s -s -d -t fdb show`; kvmdoctor reads their -j forms). Runs in a private
# namespace (sos-gen) and changes nothing else. Usage: bash generate.sh (root).
set -euo pipefail
cd "$(dirname "$0")"
NS=sos-gen
ip netns del $NS 2>/dev/null || true
ip netns add $NS
trap 'ip netns del $NS' EXIT
n() { ip -n $NS "$@"; }
n link set lo up
n link add virbr9 type bridge stp_state 1 forward_delay 400
n link set virbr9 address 52:54:00:6b:64:f0 mtu 1450
n link add vnet9 type veth peer name vnet9p
n link set vnet9 master virbr9
n link set vnet9 up; n link set vnet9p up; n link set virbr9 up
n tuntap add dev vnet10 mode tap
n link set vnet10 master virbr9
n link add dummy0 type veth peer name dummy0p
n link set dummy0p up
n link set dummy0 up
n link add dummy0.100 type veth peer name vlanp
n link set vlanp up
n link set dummy0.100 up
n link add link dummy0 name mv0 type macvlan mode bridge || true
n link add vx0 type vxlan id 42 dstport 4789 local 10.9.0.1 || true
n addr add 192.168.150.1/24 dev virbr9
n addr add 192.168.151.1/24 brd + dev virbr9 label virbr9:1
n addr add fd00:150::1/64 dev virbr9 nodad
n addr add 10.9.0.1/16 dev dummy0
n addr add 10.100.0.1/24 dev dummy0.100
n addr add 169.254.7.7/16 dev dummy0 scope link
n route add default via 10.9.0.254 dev dummy0 metric 100
n route add 203.0.113.0/24 via 10.9.0.253 dev dummy0 proto static metric 20
n route add unreachable 198.51.100.0/24 metric 4000
n route add blackhole 198.18.0.0/15
n route add 10.200.0.0/16 nexthop via 10.9.0.250 dev dummy0 weight 1 nexthop via 10.100.0.250 dev dummy0.100 weight 2
n route add 192.0.2.0/24 dev dummy0 table 100 src 10.9.0.1
n route add default via 10.100.0.254 table 100
n -6 route add default via fd00:150::fe dev virbr9 metric 1024
n -6 route add 2001:db8:5::/48 via fd00:150::fd dev virbr9 proto ra metric 100 pref medium
n rule add from 192.168.150.0/24 lookup 100 priority 100
n rule add fwmark 0x10/0xff lookup 100 priority 110
n rule add to 10.250.0.0/16 iif virbr9 unreachable priority 120
n rule add not from 10.9.0.0/16 oif dummy0 goto 32766 priority 130
n rule add ipproto udp dport 53 lookup main suppress_prefixlength 0 priority 140
n -6 rule add from fd00:150::/64 lookup 100 priority 100
n neigh add 192.168.150.10 lladdr 52:54:00:6b:64:01 dev virbr9 nud permanent
n neigh add 192.168.150.11 lladdr 52:54:00:6b:64:02 dev virbr9 nud stale
n neigh add 10.9.0.254 lladdr 02:00:00:00:00:fe dev dummy0 nud reachable
n neigh add 10.9.0.9 dev dummy0 nud failed 2>/dev/null || n neigh add 10.9.0.9 dev dummy0 nud incomplete 2>/dev/null || true
n neigh add fd00:150::10 lladdr 52:54:00:6b:64:01 dev virbr9 nud noarp
n link set vnet10 up || true
# fdb entries of every kind the datapath tells apart: static, sticky, local on the bridge and on a port, externally
# learned (a dynamic entry: the kernel refuses one by hand on a port STP keeps listening).
b() { bridge -n $NS "$@"; }
b fdb add 52:54:00:6b:64:01 dev vnet9 master static
b fdb replace 52:54:00:6b:64:02 dev vnet9 master static sticky
b fdb add 52:54:00:6b:64:03 dev virbr9 self local
b fdb add 52:54:00:6b:64:04 dev vnet10 master permanent
b fdb add 52:54:00:6b:64:06 dev vnet9 master extern_learn
sleep 1
ip -V > ip-version.txt
n -d address > ip_-d_address
n -j -d addr show > ip-j-d-addr-show.json
n route show table all > ip_route_show_table_all
n -j route show table all > ip-j-route-show-table-all.json
n -6 route show table all > ip_-6_route_show_table_all
n -6 -j route show table all > ip-6-j-route-show-table-all.json
n -4 rule > ip_-4_rule
n -j rule show > ip-j-rule-show.json
n -6 rule > ip_-6_rule
n -6 -j rule show > ip-6-j-rule-show.json
n -s -s neigh show > ip_-s_-s_neigh_show
n -j neigh show > ip-j-neigh-show.json
bridge -V > bridge-version.txt
b -s -s -d -t fdb show > bridge_-s_-s_-d_-t_fdb_show
b -j fdb show > bridge-j-fdb-show.json
