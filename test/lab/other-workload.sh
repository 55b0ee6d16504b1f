#!/bin/bash
# Another libvirt workload on the lab host, the way another user of this host would run one: a second NAT
# network (IPv4 and IPv6, libvirt picks its bridge), a guest on it that takes a DHCP lease, then both stopped
# and undefined, leaving what libvirt leaves (IPv6 forwarding turned on, the network's dnsmasq files, the
# guest's log, chains it registered). The lab must pass after it: run it between two lab runs, under the lab lock:
#   flock /run/lock/kvmdoctor-lab.lock bash test/lab/other-workload.sh
# The guest boots the lab's image (test/lab/guest/build.sh) when it is built, else a diskless guest asking for
# its network boot over DHCP.
set -euo pipefail
NET=${KD_OTHER_NET:-kdother}
VM=${KD_OTHER_VM:-kdother-vm}
CACHE=${KD_LAB_CACHE:-/var/cache/kvmdoctor-lab}
MAC=52:54:00:6b:77:01
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if virsh net-info "$NET" >/dev/null 2>&1 || virsh dominfo "$VM" >/dev/null 2>&1; then
  echo "$NET or $VM exists already: not touching another user's definitions" >&2
  exit 2
fi
cat >"$WORK/net.xml" <<EOF
<network>
  <name>$NET</name>
  <forward mode='nat'/>
  <bridge stp='on' delay='0'/>
  <ip address='192.168.77.1' netmask='255.255.255.0'><dhcp><range start='192.168.77.10' end='192.168.77.50'/></dhcp></ip>
  <ip family='ipv6' address='fd00:77::1' prefix='64'><dhcp><range start='fd00:77::10' end='fd00:77::50'/></dhcp></ip>
</network>
EOF
if [ -f "$CACHE/vmlinuz" ] && [ -f "$CACHE/initrd.gz" ]; then
  OS="<os><type arch='x86_64' machine='pc'>hvm</type><kernel>$CACHE/vmlinuz</kernel><initrd>$CACHE/initrd.gz</initrd><cmdline>console=ttyS0 quiet kd.mode=dhcp kd.probe=192.168.77.1</cmdline></os>"
else
  OS="<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/></os>"
fi
cat >"$WORK/vm.xml" <<EOF
<domain type='qemu'>
  <name>$VM</name>
  <memory unit='MiB'>96</memory>
  <vcpu>1</vcpu>
  $OS
  <devices>
    <interface type='network'><source network='$NET'/><mac address='$MAC'/><model type='virtio'/></interface>
    <serial type='pty'><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
virsh -q net-define "$WORK/net.xml"
virsh -q net-start "$NET"
virsh -q define "$WORK/vm.xml"
virsh -q start "$VM"
for _ in $(seq 1 90); do
  if virsh -q net-dhcp-leases "$NET" --mac "$MAC" 2>/dev/null | grep -q 192.168.77.; then break; fi
  sleep 1
done
echo "lease: $(virsh -q net-dhcp-leases "$NET" --mac "$MAC" | awk '{print $5}' | head -n 1)"
virsh -q destroy "$VM"
virsh -q undefine "$VM"
virsh -q net-destroy "$NET"
virsh -q net-undefine "$NET"
echo "net.ipv6.conf.all.forwarding = $(sysctl -n net.ipv6.conf.all.forwarding) after the workload"
