#!/bin/sh
# Real output of kernel features on a guest's path that kvmdoctor reads no rules of (iproute2 6.1, kernel 6.18),
# for test/datapath/unread-hops.test.ts. Run as root from this directory: it builds two namespaces, checks what
# the kernel does with each feature (a ping across the veth pair), captures, and removes them.
#   bpf-da: a clsact ingress bpf classifier in direct-action mode (classic bytecode "ret #2" = TC_ACT_SHOT).
#   xdp: a generic-mode XDP program (returns XDP_DROP; loaded and pinned by xdp-load.py, no compiler needed).
#   l3mdev: the policy rule a VRF adds ("1000: from all lookup [l3mdev-table]"), no VRF device.
#   nhid: routes by nexthop object (ip nexthop, as FRR makes them), listed with net.ipv4.nexthop_compat_mode 1 and 0.
set -eu
A=kduh-a B=kduh-b PIN=/sys/fs/bpf/kduh-xdp-drop
for n in $A $B; do ip netns del $n 2>/dev/null || true; ip netns add $n; done
ip -n $A link add v0 type veth peer name v1 netns $B
ip -n $A addr add 10.99.0.1/24 dev v0; ip -n $B addr add 10.99.0.2/24 dev v1
ip -n $A link set v0 up; ip -n $B link set v1 up
ping_b() { ip netns exec $B ping -c1 -W1 10.99.0.1 >/dev/null && echo "$1: passes" || echo "$1: dropped"; }
ping_b 'plain'
ip netns exec $B tc qdisc add dev v1 clsact
ip netns exec $B tc filter add dev v1 ingress bpf da bytecode '1,6 0 0 2,'
ping_b 'bpf da ret 2 on v1 ingress'
ip netns exec $B tc -j -s qdisc show > qdisc-clsact.json
ip netns exec $B tc -j -s filter show dev v1 ingress > filter-bpf-da-ingress.json
ip netns exec $B tc qdisc del dev v1 clsact
# iproute2 may stack a bind mount and a bpffs of its own there: every mount this script leaves is taken off at the end.
MOUNTS=$(findmnt -n /sys/fs/bpf | wc -l)
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
rm -f $PIN; python3 ./xdp-load.py $PIN 1
nsenter --net=/run/netns/$B ip link set dev v1 xdpgeneric pinned $PIN
ping_b 'xdpgeneric XDP_DROP on v1'
ip -n $B -j -d addr show dev v1 > addr-xdp.json
ip -n $B -d addr show dev v1 > addr-xdp.txt
rm -f $PIN
while [ "$(findmnt -n /sys/fs/bpf | wc -l)" -gt "$MOUNTS" ]; do umount /sys/fs/bpf; done
ip netns exec $A ip rule add l3mdev pref 1000
ip netns exec $A ip -j rule show > rule-l3mdev.json
# The l3mdev rule matches no device outside a VRF: a later rule still decides (an unreachable table here).
ip -n $A link add up0 type veth peer name up1
ip -n $A addr add 198.51.100.2/24 dev up0
for d in up0 up1; do ip -n $A link set $d up; done
ip -n $A route add default via 198.51.100.1
ip netns exec $A sysctl -qw net.ipv4.ip_forward=1
ip -n $A rule add from 10.99.0.0/24 lookup 100 pref 5000
ip -n $A route add unreachable default table 100
ip -n $A route get 9.9.9.9 from 10.99.0.2 iif v0 >/dev/null 2>&1 && echo 'l3mdev rule then rule 5000: main decides' || echo 'l3mdev rule then rule 5000: table 100 decides (unreachable)'
ip -n $A rule del pref 5000
# Selectors beyond addresses, devices and marks: a uid range (a forwarded packet carries uid 0), a TOS, suppress_ifgroup.
ip -n $A rule add uidrange 1000-2000 lookup 100 pref 50
ip -n $A route get 9.9.9.9 from 10.99.0.2 iif v0 >/dev/null 2>&1 && echo 'uidrange 1000-2000: forwarded packets pass it by' || echo 'uidrange 1000-2000: forwarded packets take it'
ip -n $A rule add tos 0x10 lookup 100 pref 60
ip -n $A route get 9.9.9.9 from 10.99.0.2 iif v0 tos 0x10 >/dev/null 2>&1 && echo 'tos 0x10: a tos 0x10 packet passes it by' || echo 'tos 0x10: a tos 0x10 packet takes it'
ip -n $A rule add suppress_ifgroup 5 lookup main pref 70
ip -n $A -j rule show > rule-selectors.json
ip -n $A rule show > rule-selectors.txt
ip -n $A rule add uidrange 0-0 lookup 100 pref 40
ip -n $A route get 9.9.9.9 from 10.99.0.2 iif v0 >/dev/null 2>&1 && echo 'uidrange 0-0: forwarded packets pass it by' || echo 'uidrange 0-0: forwarded packets take it'
for n in $A $B; do ip netns del $n; done
# Bridge port flags and flooding: host br0 (in A) with ports p0 (to B) and p1 (to C). bcast_flood off holds back
# broadcasts bridged from another port, not the host's own (br_flood: skb->dev == br->dev); proxy_arp: no flood at all.
C=kduh-c
for n in $A $B $C; do ip netns del $n 2>/dev/null || true; ip netns add $n; done
ip -n $A link add br0 type bridge; ip -n $A link set br0 up; ip -n $A addr add 10.98.0.1/24 dev br0
ip -n $A link add p0 type veth peer name e0 netns $B; ip -n $A link add p1 type veth peer name e1 netns $C
for p in p0 p1; do ip -n $A link set $p master br0; ip -n $A link set $p up; done
ip -n $B link set e0 up; ip -n $C link set e1 up; ip -n $B addr add 10.98.0.2/24 dev e0; ip -n $C addr add 10.98.0.3/24 dev e1
flushed_ping() { ip -n $A neigh flush dev br0; ip -n $C neigh flush dev e1; ip netns exec $1 ping -c1 -W1 10.98.0.2 >/dev/null && echo "$2: passes" || echo "$2: fails"; }
ip -n $A link set p0 type bridge_slave bcast_flood off
flushed_ping $A 'bcast_flood off on p0, host asks for B'
flushed_ping $C 'bcast_flood off on p0, C asks for B'
ip -n $A -j -d addr show dev p0 > addr-port-bcast-flood-off.json
ip -n $A link set p0 type bridge_slave bcast_flood on proxy_arp on
flushed_ping $A 'proxy_arp on p0, host asks for B'
flushed_ping $C 'proxy_arp on p0, C asks for B'
ip -n $A -j -d addr show dev p0 > addr-port-proxy-arp.json
ip -n $A link set p0 type bridge_slave proxy_arp off
# The bridge's own nf_call_iptables: br_netfilter hands its frames to iptables with the sysctl at 0.
ip netns exec $A sysctl -qw net.bridge.bridge-nf-call-iptables=0
ip netns exec $A iptables -A FORWARD -j DROP
flushed_ping $C 'sysctl bridge-nf-call-iptables 0, FORWARD drop, C asks for B'
ip -n $A link set br0 type bridge nf_call_iptables 1
flushed_ping $C 'sysctl 0 and br0 nf_call_iptables 1, FORWARD drop, C asks for B'
ip -n $A -j -d addr show dev br0 > addr-bridge-nf-call-iptables.json
for n in $A $B $C; do ip netns del $n; done
# Routes by nexthop object: with nexthop_compat_mode 0 the listing names the object only, no device or gateway. The
# kernel still routes by it: a reverse-path filter (nft fib) passes a packet from 8.8.8.8 arriving by da, either mode.
A=kduh-a B=kduh-b
for n in $A $B; do ip netns del $n 2>/dev/null || true; ip netns add $n; done
ip -n $A link add da type veth peer name da2 netns $B; ip -n $A link add db type veth peer name db2
for d in da db db2; do ip -n $A link set $d up; done; ip -n $B link set da2 up
ip -n $A addr add 10.5.0.1/24 dev da; ip -n $A addr add 10.6.0.1/24 dev db
ip -n $B addr add 10.5.0.2/24 dev da2; ip -n $B addr add 8.8.8.8/32 dev da2; ip -n $B route add default via 10.5.0.1
ip -n $A nexthop add id 1 via 10.5.0.2 dev da; ip -n $A nexthop add id 2 via 10.6.0.2 dev db; ip -n $A nexthop add id 10 group 1/2
ip -n $A route add default nhid 1; ip -n $A route add 9.9.0.0/16 nhid 10
ip netns exec $A nft add table inet t
ip netns exec $A nft add chain inet t pre '{ type filter hook prerouting priority -150; }'
ip netns exec $A nft add rule inet t pre fib saddr . iif oif missing drop
for mode in 1 0; do
  ip netns exec $A sysctl -qw net.ipv4.nexthop_compat_mode=$mode
  ip -n $A -j route show table all > route-nhid-compat$mode.json
  ip netns exec $B ping -c1 -W1 -I 8.8.8.8 10.5.0.1 >/dev/null && echo "compat mode $mode, fib saddr . iif oif missing drop, from 8.8.8.8 by da: passes" || echo "compat mode $mode, ...: dropped"
done
for n in $A $B; do ip netns del $n; done
