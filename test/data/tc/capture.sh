#!/bin/sh
# Real tc output for the parser tests, from iproute2 6.1 on this kernel (which has htb, tbf, pfifo,
# bfifo, ingress, clsact, u32 and mirred, and neither sfq, netem, police nor gact). Run as root:
# it builds a namespace, shapes its devices, captures, and removes the namespace.
set -eu
NS=kdtc-capture
ip netns del $NS 2>/dev/null || true
ip netns add $NS
N="ip netns exec $NS"
$N ip link add t0 type veth peer name t1
$N ip link add br0 type bridge
$N ip link set t0 master br0
for d in lo t0 t1 br0; do $N ip link set $d up; done
# t0: libvirt's way of shaping what a guest receives (htb root, a class), with a leaf that holds nothing.
$N tc qdisc add dev t0 root handle 1: htb default 10
$N tc class add dev t0 parent 1: classid 1:10 htb rate 8kbit ceil 8kbit burst 1500 cburst 1500
$N tc qdisc add dev t0 parent 1:10 handle 10: pfifo limit 0
$N tc filter add dev t0 parent 1: protocol ip prio 1 u32 match ip src 10.0.0.1/32 flowid 1:10
$N tc qdisc add dev t0 ingress
$N tc filter add dev t0 parent ffff: protocol all prio 2 u32 match u32 0 0 flowid :1
# t1: clsact with a redirect of one flow elsewhere; a tbf whose burst is smaller than a full frame.
$N tc qdisc add dev t1 clsact
$N tc filter add dev t1 ingress protocol ip prio 5 u32 match ip dst 192.168.122.0/24 match ip protocol 6 0xff match ip dport 80 0xffff action mirred egress redirect dev t0
$N tc qdisc add dev t1 root tbf rate 1mbit burst 1000 latency 50ms
$N tc qdisc add dev br0 root bfifo limit 500
$N tc -j -s qdisc show > qdisc.json
$N tc -s class show dev t0 > class-t0.txt 2>/dev/null
$N tc -j -s filter show dev t0 parent 1: > filter-t0-parent-1.json
$N tc -j -s filter show dev t0 ingress > filter-t0-ingress.json
$N tc -j -s filter show dev t1 ingress > filter-t1-ingress.json
$N tc -j -s filter show dev t1 egress > filter-t1-egress.json
# The same filters as text: what the probe reads where tc's JSON is invalid (iproute2 before 5.18) or holds a policer.
$N tc -s filter show dev t0 parent 1: > filter-t0-parent-1.txt
$N tc -s filter show dev t0 ingress > filter-t0-ingress.txt
$N tc -s filter show dev t1 ingress > filter-t1-ingress.txt
ip netns del $NS
