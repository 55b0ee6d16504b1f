#!/bin/sh
# Real captures with kvmdoctor's own tcpdump argv (probes/wire.ts captureArgv), in lab namespaces.
set -x
O=/tmp/wirecap/k; mkdir -p $O
C=kdlab-wcap; S=kdlab-wsrv; R=kdlab-wrog; A=kdlab-wcli
for n in $C $S $R $A; do ip netns del $n 2>/dev/null; ip netns add $n; ip -n $n link set lo up; done
ip -n $C link add br0 type bridge; ip -n $C link set br0 up
for n in $S $R $A; do
  ip -n $C link add p-$n type veth peer name eth0 netns $n
  ip -n $C link set p-$n master br0 up
done
ip -n $S link set eth0 address 52:54:00:aa:00:01
ip -n $R link set eth0 address 52:54:00:aa:00:09
ip -n $A link set eth0 address 52:54:00:aa:00:02
ip -n $S addr add 192.0.2.1/24 dev eth0; ip -n $S link set eth0 up
ip -n $R addr add 192.0.2.254/24 dev eth0; ip -n $R link set eth0 up
M=52:54:00:aa:00:02; T=p-$A
D="(ether host $M and (arp or icmp6)) or (udp port 67 or udp port 68)"
Q="ether src $M and not (arp or icmp6 or udp port 67 or udp port 68)"
capd() { ip netns exec $C timeout $2 tcpdump -i $T -n -e -vv -l -s 600 -c 400 "$D" > $O/$1.decoded.txt 2>/dev/null & }
capq() { ip netns exec $C timeout $2 tcpdump -i $T -n -e -q -l -s 96 -c 200 "$Q" > $O/$1.quiet.txt 2>/dev/null & }
sleep 1
# two servers: dnsmasq (the network's) and a rogue udhcpd; the client takes whichever offers first; then a NAK from dnsmasq
ip netns exec $S dnsmasq --conf-file=/dev/null --no-resolv --port=0 --interface=eth0 --bind-interfaces --dhcp-range=192.0.2.50,192.0.2.60,255.255.255.0,1h --dhcp-leasefile=/run/kdlab-wire-dnsmasq.leases --pid-file=/run/kdlab-wire-dnsmasq.pid --dhcp-authoritative
cat > $O/udhcpd.conf <<EOC
start 192.0.2.200
end 192.0.2.210
interface eth0
lease_file /run/kdlab-wire-udhcpd.leases
pidfile /run/kdlab-wire-udhcpd.pid
opt router 192.0.2.254
opt subnet 255.255.255.0
EOC
touch /run/kdlab-wire-udhcpd.leases
ip netns exec $R busybox udhcpd -S $O/udhcpd.conf
sleep 1
capd rogue 12; capq rogue 12
sleep 1
ip -n $A link set eth0 up
ip netns exec $A busybox udhcpc -i eth0 -t 3 -T 2 -n -q -s /bin/true -x hostname:kdcli -x 0x3d:ff00000001000100012a2b2c2d5254000000aa
ip netns exec $A busybox udhcpc -i eth0 -t 2 -T 1 -n -q -s /bin/true -r 198.51.100.77 -C
ip -n $A addr add 192.0.2.55/24 dev eth0
ip netns exec $A busybox ping -c 2 -W 1 192.0.2.1
ip netns exec $A sh -c 'printf "GET / HTTP/1.0\r\nAuthorization: Basic c2VjcmV0\r\n\r\n" | timeout 2 busybox nc -w 1 192.0.2.1 80'
sleep 9
kill $(cat /run/kdlab-wire-dnsmasq.pid) $(cat /run/kdlab-wire-udhcpd.pid)
wait
for n in $C $S $R $A; do ip netns del $n; done
rm -f /run/kdlab-wire-*
