#!/bin/sh
# Real Open vSwitch listings (ovs-vsctl 3.1) in the forms a sosreport keeps (`ovs-vsctl -t 5 show`, `list bridge`,
# `list interface`, as text) and the JSON kvmdoctor reads live, from a private ovsdb-server on a scratch database
# (no ovs-vswitchd: the columns it fills, ofport, link_state, error, is_connected, are set by hand; the host's own
# Open vSwitch is never asked): sh generate.sh OUTDIR
set -e
out=$(cd "${1:-.}" && pwd)
dir=$(mktemp -d)
trap 'ovs-appctl -t "$dir/ctl" exit 2>/dev/null; rm -rf "$dir"' EXIT
ovsdb-tool create "$dir/conf.db" /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server "$dir/conf.db" --remote="punix:$dir/db.sock" --unixctl="$dir/ctl" --pidfile="$dir/pid" --detach --no-chdir --log-file="$dir/log"
V="ovs-vsctl --db=unix:$dir/db.sock --no-wait"
$V init
$V set Open_vSwitch . ovs_version='"3.1.0"'
# The bridge of test/sos's OVS sosreport: the lab's kdlab-ovs0 (scenario ovs-flow-drop), every port in VLAN 10.
$V add-br kdlab-ovs0 -- set bridge kdlab-ovs0 datapath_type=netdev -- set Port kdlab-ovs0 tag=10 -- set Interface kdlab-ovs0 ofport=65534 link_state=up admin_state=up mac_in_use='"3a:84:a5:cb:76:4a"'
$V add-port kdlab-ovs0 kdlab-lanp tag=10 -- set Interface kdlab-lanp ofport=1 link_state=up admin_state=up mac_in_use='"46:95:cb:0e:48:7b"'
$V add-port kdlab-ovs0 vnet27 tag=10 -- set Interface vnet27 ofport=2 link_state=up admin_state=up mac_in_use='"fe:54:00:6b:64:75"' external-ids:attached-mac='"52:54:00:6b:64:75"' external-ids:iface-id=ea6c3610-b8a9-4216-bfa0-f322ee267f1f external-ids:iface-status=active external-ids:vm-id=b5dc1b7e-4c09-4cff-b67d-1aabc9051f2c
$V -t 5 show > "$out/ovs-vsctl_-t_5_show"
$V -t 5 list bridge > "$out/ovs-vsctl_-t_5_list_bridge"
$V -t 5 list interface > "$out/ovs-vsctl_-t_5_list_interface"
# A second state for the parsers: controllers (one connected), fail_mode secure, an interface error, a native VLAN
# port with trunks, a name that needs quotes, a tunnel's options; each table also as the probe reads it live.
$V add-br br-sec -- set bridge br-sec fail_mode=secure -- set-controller br-sec tcp:127.0.0.1:6653 tcp:192.0.2.9:6653
$V set Controller "$($V get Bridge br-sec controller | tr -d '[]' | cut -d, -f1)" is_connected=true
$V add-port br-sec vnet3 -- set Interface vnet3 ofport=-1 error='"could not open network device vnet3 (No such device)"'
$V add-port br-sec uplink0 tag=5 trunks=10,20 vlan_mode=native-untagged -- set Interface uplink0 ofport=1 link_state=down
$V add-port br-sec "tun port" -- set Interface "tun port" type=vxlan options:remote_ip=192.0.2.7 ofport=7
$V -t 5 show > "$out/varied-show"
$V -t 5 list bridge > "$out/varied-list-bridge"
$V -t 5 list interface > "$out/varied-list-interface"
$V -f json --columns=_uuid,name,ports,fail_mode,controller,datapath_type list Bridge > "$out/varied-bridge.json"
$V -f json --columns=_uuid,name,interfaces,tag,trunks,vlan_mode list Port > "$out/varied-port.json"
$V -f json --columns=_uuid,name,type,ofport,error,link_state,admin_state,external_ids,mac_in_use list Interface > "$out/varied-interface.json"
$V -f json --columns=_uuid,target,is_connected,role,status list Controller > "$out/varied-controller.json"
