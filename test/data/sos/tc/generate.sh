#!/bin/sh
# Real tc listings of one traffic-control state, as text (what sos records: `tc -s qdisc show`,
# `tc -s filter show dev DEV [ingress]`) and as JSON (what kvmdoctor reads live), made in a throwaway
# network namespace (nothing of the host changes): unshare -rn sh generate.sh OUTDIR
set -e
out=${1:-.}
ip link set lo up
ip link add v0 type veth peer name v1
ip link add v2 numtxqueues 2 numrxqueues 2 type veth peer name v3
ip link add v4 type veth peer name v5
ip tuntap add t0 mode tap
for d in v0 v1 v2 v3 v4 v5 t0; do ip link set $d up; done
# A shaping htb with a class and a pfifo leaf under it and its u32 filter, and u32 filters on an ingress and a clsact
# qdisc (this kernel has u32 and mirred: the filter text parser's own tests hold the other actions).
tc qdisc add dev v0 root handle 1: htb default 1
tc class add dev v0 parent 1: classid 1:1 htb rate 8mbit ceil 16mbit burst 16kb
tc qdisc add dev v0 parent 1:1 handle 2: pfifo limit 50
tc filter add dev v0 parent 1: protocol all prio 1 u32 match u32 0 0 flowid 1:1
tc qdisc add dev v0 handle ffff: ingress
tc filter add dev v0 parent ffff: protocol ip prio 50 u32 match ip dport 53 0xffff action mirred egress redirect dev v4
tc qdisc add dev v1 root pfifo limit 0
tc qdisc add dev v1 clsact
tc filter add dev v1 ingress protocol ip prio 1 u32 match ip protocol 17 0xff action mirred egress redirect dev v4
tc qdisc add dev t0 root bfifo limit 1000
tc qdisc add dev v4 root tbf rate 1mbit burst 1600 latency 50ms
tc -s qdisc show > "$out/tc_-s_qdisc_show"
tc -j -s qdisc show > "$out/tc-j-s-qdisc-show.json"
for d in v0 v1; do
  tc -s filter show dev $d > "$out/tc_-s_filter_show_dev_$d"
  tc -s filter show dev $d ingress > "$out/tc_-s_filter_show_dev_${d}_ingress"
done
# sos's `tc -s filter show dev DEV` (no parent) is the root qdisc's filters: the same as parent 1: here.
tc -s filter show dev v0 parent 1: > "$out/tc-s-filter-show-dev-v0-parent-1"
