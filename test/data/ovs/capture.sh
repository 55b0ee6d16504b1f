#!/bin/sh
# Real Open vSwitch output for the parser tests, from Debian 12's openvswitch-switch 3.1 run without
# systemd (its ovs-ctl script) inside a namespace of its own, on the userspace datapath (this kernel
# has no openvswitch module). Run as root from this directory: it starts OVS, builds two bridges,
# captures, then deletes the bridges, stops OVS and removes the namespace.
#   br-ovs2: standalone; guest ports vnet70 (tag 10) and vnet71 (tag 20) with libvirt's external_ids,
#            an uplink trunking 10 and 30, a port whose device does not exist (error, ofport -1),
#            a drop flow for vnet71's traffic to 10/8 above NORMAL.
#   br-sec:  fail_mode secure, a controller that cannot be reached, OpenFlow 1.3 only (dump-flows
#            without -O fails: the probe's fallback), one flow.
set -eu
NS=kdovs-capture
OUT=$(pwd)
N="ip netns exec $NS"
ip netns del $NS 2>/dev/null || true
ip netns add $NS
$N ip link set lo up
$N /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random >/dev/null 2>&1 || true
cleanup() {
  $N ovs-vsctl --if-exists del-br br-ovs2 -- --if-exists del-br br-sec || true
  $N /usr/share/openvswitch/scripts/ovs-ctl stop >/dev/null 2>&1 || true
  ip netns del $NS
}
trap cleanup EXIT
$N ovs-vsctl --may-exist add-br br-ovs2 -- set bridge br-ovs2 datapath_type=netdev
for t in vnet70 vnet71 vnet72; do $N ip tuntap add $t mode tap; $N ip link set $t up; done
$N ip link add eth-up type veth peer name eth-peer
$N ip link set eth-up up
$N ovs-vsctl add-port br-ovs2 vnet70 tag=10 -- set interface vnet70 external-ids:iface-id=5a1f0c2e-8d8e-4b3f-9a3c-0e8b1b2c3d4e external-ids:attached-mac=52:54:00:aa:bb:01 external-ids:vm-uuid=0f4c7a3e-6b21-4f7e-a2a9-1d2c3b4a5f60 external-ids:iface-status=active
$N ovs-vsctl add-port br-ovs2 vnet71 tag=20 -- set interface vnet71 external-ids:iface-id=6b2e1d3f-9e9f-4c40-8b4d-1f9c2c3d4e5f external-ids:attached-mac=52:54:00:aa:bb:02 external-ids:vm-uuid=1a5d8b4f-7c32-4a8f-b3ba-2e3d4c5b6a71
$N ovs-vsctl add-port br-ovs2 eth-up trunks=10,30
$N ovs-vsctl add-port br-ovs2 vnet99 -- set interface vnet99 external-ids:iface-id=deadbeef-0000-4000-8000-000000000099 2>/dev/null || true
$N ovs-vsctl add-br br-sec -- set bridge br-sec datapath_type=netdev fail_mode=secure protocols=OpenFlow13 -- set-controller br-sec tcp:192.0.2.10:6653
$N ovs-vsctl add-port br-sec vnet72 -- set interface vnet72 external-ids:iface-id=7c3f2e40-afa0-4d51-9c5e-2fad3d4e5f60 external-ids:vm-uuid=2b6e9c50-8d43-4b90-a4cb-3f4e5d6c7b82
$N ovs-ofctl add-flow br-ovs2 "priority=200,in_port=vnet71,ip,nw_dst=10.0.0.0/8,actions=drop"
$N ovs-ofctl add-flow br-ovs2 "priority=100,udp,tp_dst=53,actions=NORMAL"
$N ovs-ofctl add-flow br-ovs2 "priority=50,arp,actions=NORMAL"
$N ovs-ofctl -O OpenFlow13 add-flow br-sec "priority=10,in_port=LOCAL,actions=drop"
sleep 3 # the controller's connection attempt fails and is recorded in its status
V="$N ovs-vsctl --timeout=5 -f json"
$V --columns=_uuid,name,ports,fail_mode,controller,datapath_type list Bridge > "$OUT/bridge.json"
$V --columns=_uuid,name,interfaces,tag,trunks,vlan_mode list Port > "$OUT/port.json"
$V --columns=_uuid,name,type,ofport,error,link_state,admin_state,external_ids,mac_in_use list Interface > "$OUT/interface.json"
$V --columns=_uuid,target,is_connected,role,status list Controller > "$OUT/controller.json"
$N ovs-ofctl --timeout=5 dump-flows br-ovs2 > "$OUT/flows-br-ovs2.txt"
$N ovs-ofctl --timeout=5 dump-flows br-sec > "$OUT/flows-br-sec-of10.txt" 2> "$OUT/flows-br-sec-of10.stderr" || true
$N ovs-ofctl --timeout=5 -O OpenFlow13 dump-flows br-sec > "$OUT/flows-br-sec.txt"
$N ovs-appctl --timeout=5 ofproto/trace br-ovs2 in_port=2,ip,nw_src=10.1.1.5,nw_dst=10.1.1.1 > "$OUT/trace-drop.txt"
