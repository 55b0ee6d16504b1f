#!/bin/sh
# Real tcpdump captures for the wire parser, all inside lab namespaces (kdlab-w*).
set -x
O=/tmp/wirecap
C=kdlab-wcap; S=kdlab-wsrv; A=kdlab-wcli; B=kdlab-wcl2
for n in $C $S $A $B; do ip netns del $n 2>/dev/null; ip netns add $n; ip -n $n link set lo up; done
ip -n $C link add br0 type bridge; ip -n $C link set br0 up
for n in $S $A $B; do
  ip -n $C link add p-$n type veth peer name eth0 netns $n
  ip -n $C link set p-$n master br0 up
done
ip -n $S link set eth0 address 52:54:00:aa:00:01
ip -n $A link set eth0 address 52:54:00:aa:00:02
ip -n $B link set eth0 address 52:54:00:aa:00:03
ip -n $S addr add 192.0.2.1/24 dev eth0
ip -n $S link set eth0 up
cap() { # name iface seconds
  ip netns exec $C timeout $3 tcpdump -i $2 -n -e -vv -l -s 600 > $O/$1.txt 2> $O/$1.err &
}
sleep 1
# 1. an unanswered DHCP client (no server yet) + IPv6 link-local/RS from link up
cap unanswered p-$A 9
sleep 1
ip -n $A link set eth0 up
ip netns exec $A busybox udhcpc -i eth0 -t 3 -T 2 -n -q -s /bin/true -x hostname:kdcli -x 0x3d:01aabbccddeeff
wait
# 2. udhcpd answering
cat > $O/udhcpd.conf <<EOC
start 192.0.2.100
end 192.0.2.110
interface eth0
lease_file /run/kdlab-wire-udhcpd.leases
pidfile /run/kdlab-wire-udhcpd.pid
opt router 192.0.2.1
opt subnet 255.255.255.0
EOC
touch /run/kdlab-wire-udhcpd.leases
ip netns exec $S busybox udhcpd -f $O/udhcpd.conf &
UD=$!
sleep 1
cap udhcpd p-$A 8
sleep 1
ip netns exec $A busybox udhcpc -i eth0 -t 3 -T 2 -n -q -s /bin/true -x hostname:kdcli -x 0x3d:01aabbccddeeff
wait $(jobs -p | grep -v $UD) 2>/dev/null; sleep 7
kill $UD
# 3. dnsmasq answering (libvirt's server), client with same client id from the other MAC
ip netns exec $S dnsmasq --conf-file=/dev/null --no-resolv --port=0 --interface=eth0 --bind-interfaces --dhcp-range=192.0.2.50,192.0.2.60,255.255.255.0,1h --dhcp-leasefile=/run/kdlab-wire-dnsmasq.leases --pid-file=/run/kdlab-wire-dnsmasq.pid --dhcp-authoritative
sleep 1
cap dnsmasq p-$B 8
sleep 1
ip -n $B link set eth0 up
ip netns exec $B busybox udhcpc -i eth0 -t 3 -T 2 -n -q -s /bin/true -x hostname:kdcl2 -x 0x3d:01aabbccddeeff
sleep 7
kill $(cat /run/kdlab-wire-dnsmasq.pid)
# 4. ARP: probe, announcement, request/reply, static address ping, APIPA announce
cap arp p-$A 10
sleep 1
ip -n $A addr add 192.0.2.77/24 dev eth0
ip netns exec $A busybox arping -D -c 1 -w 1 -I eth0 192.0.2.77
ip netns exec $A busybox arping -U -c 1 -w 1 -I eth0 192.0.2.77
ip netns exec $A busybox ping -c 2 -W 1 192.0.2.1
ip -n $A addr add 169.254.3.4/16 dev eth0
ip netns exec $A busybox arping -U -c 1 -w 1 -I eth0 169.254.3.4
ip -n $A addr add 198.51.100.9/24 dev eth0
ip netns exec $A busybox arping -c 1 -w 1 -I eth0 -s 198.51.100.9 192.0.2.1
wait
# 5. silent
cap silent p-$B 3
wait
for n in $C $S $A $B; do ip netns del $n; done
rm -f /run/kdlab-wire-*
