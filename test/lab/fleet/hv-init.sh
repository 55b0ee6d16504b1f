#!/bin/sh
# PID 1 of one lab hypervisor (test/lab/fleet-lab.ts): started by
#   ip netns exec kdf-hvN unshare --pid --fork --kill-child --mount-proc --uts -- sh hv-init.sh NAME WORK LAB
# so it has its own network stack (the links, sysctls, iptables and sockets the lab set up and
# faults), its own processes (ps shows its dnsmasq and sshd, nothing of the machine's) and its own
# hostname. Its /etc, /usr/local, /var and /root are copy-on-write views of the machine's (overlays
# whose upper layers are under WORK), and /run, /var/log and /var/lib/libvirt are its own tmpfs:
# what kvmdoctor, Ansible or a fault writes there stays in WORK, the machine's files are never
# written. libvirt's management view is the files LAB/libvirt (served by the virsh stub in
# /usr/local/sbin) and describes the bridge, tap and guest that exist in this namespace.
set -eu
name=$1 work=$2 lab=$3
hostname "$name"
for dir in /etc /usr/local /var /root; do
  layer=$work/fs$(echo "$dir" | tr / _)
  mkdir -p "$layer/upper" "$layer/work"
  mount -t overlay overlay -o "lowerdir=$dir,upperdir=$layer/upper,workdir=$layer/work" "$dir"
done
for dir in /run /var/log /var/lib/libvirt; do
  mount -t tmpfs -o mode=0755,size=64m tmpfs "$dir"
done
mkdir -p /run/sshd /run/libvirt/qemu /run/libvirt/network /var/lib/libvirt/dnsmasq /usr/local/sbin /usr/local/share/kdf-libvirt
# A fresh root account's shell start-up: the machine's own may be slow (pyenv, conda...).
cp /etc/skel/.bashrc /etc/skel/.profile /root/
install -m 0755 "$lab/bin/virsh" "$lab/bin/systemctl" /usr/local/sbin/
cp "$lab"/libvirt/virsh_* /usr/local/share/kdf-libvirt/
cp "$lab/libvirt/web01.xml" /run/libvirt/qemu/web01.xml
cp "$lab/libvirt/default.conf" "$lab/libvirt/default.hostsfile" "$lab/libvirt/default.addnhosts" /var/lib/libvirt/dnsmasq/
cp "$work/virbr0.status" /var/lib/libvirt/dnsmasq/virbr0.status
# libvirt's dnsmasq for the default network, started the way libvirt starts it.
# (libvirt hands its leases helper the bridge name in the environment.)
VIR_BRIDGE_NAME=virbr0 /usr/sbin/dnsmasq --conf-file=/var/lib/libvirt/dnsmasq/default.conf --leasefile-ro --dhcp-script=/usr/lib/libvirt/libvirt_leaseshelper
exec /usr/sbin/sshd -D -f "$work/sshd_config" -E "$work/sshd.log"
