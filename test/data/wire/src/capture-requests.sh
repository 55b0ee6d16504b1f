#!/bin/sh
# Real captures of guests asking for what nobody answers, with kvmdoctor's own tcpdump argv
# (probes/wire.ts captureArgv), in namespaces of their own (wire2-*): a bridge, a server (DHCP and
# DNS by dnsmasq, routing), a host with no DNS server, and one client per mistake. Needs
# kd-dhcp-reboot built from test/lab/guest/kd-dhcp-reboot.c at $REBOOT.
#   sh capture-requests.sh OUTDIR
set -x
O=${1:-/tmp/wire2-requests}; mkdir -p "$O"
REBOOT=${REBOOT:-/tmp/wire2-kd-dhcp-reboot}
C=wire2-cap
NS="srv ref gw dns nms nml reb v6a v6b prx"
for n in $C $(for x in $NS; do echo wire2-$x; done); do ip netns del $n 2>/dev/null; ip netns add $n; ip -n $n link set lo up; done
ip -n $C link add br0 type bridge; ip -n $C link set br0 up
i=0
for x in $NS; do
  i=$((i + 1))
  ip -n $C link add p-$x type veth peer name eth0 netns wire2-$x
  ip -n $C link set p-$x master br0 up
  ip -n wire2-$x link set eth0 address 52:54:00:aa:01:$(printf %02x $i)
done
mac() { ip -n wire2-$1 -j link show eth0 | sed -n 's/.*"address":"\([^"]*\)".*/\1/p'; }
addr() { ip -n wire2-$1 addr add $2 dev eth0; ip -n wire2-$1 link set eth0 up; [ -z "$3" ] || ip -n wire2-$1 route add default via $3; }
addr srv 192.0.2.1/24
addr ref 192.0.2.9/24
addr gw 192.0.2.55/24 192.0.2.254
addr dns 192.0.2.56/24 192.0.2.1
addr nms 192.0.2.57/16 192.0.2.1
addr nml 192.0.2.5/28 192.0.2.1
ip -n wire2-reb link set eth0 up
ip -n wire2-v6a link set eth0 up
ip -n wire2-v6b link set eth0 up
ip netns exec wire2-srv sysctl -qw net.ipv4.ip_forward=1
ip netns exec wire2-srv dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --interface=eth0 --bind-interfaces \
  --address=/example.test/192.0.2.80 --dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,1h --dhcp-authoritative \
  --dhcp-leasefile=/run/wire2-dnsmasq.leases --pid-file=/run/wire2-dnsmasq.pid
cap() { # guest seconds
  M=$(mac $1)
  D="(ether host $M and (arp or icmp6)) or (udp port 67 or udp port 68) or (icmp6 and ip6 multicast and ip6[40] == 136)"
  Q="(ether src $M and not (arp or icmp6 or udp port 67 or udp port 68)) or (ether dst $M and (udp src port 53 or tcp src port 53 or icmp))"
  ip netns exec $C timeout $2 tcpdump -i p-$1 -n -e -vv -l -s 600 -c 400 "$D" >"$O/$1.decoded.txt" 2>/dev/null &
  ip netns exec $C timeout $2 tcpdump -i p-$1 -n -e -q -l -s 96 -c 200 "$Q" >"$O/$1.quiet.txt" 2>/dev/null &
}
sleep 2
for x in gw dns nms nml reb v6a v6b; do cap $x 12; done
sleep 1
# a wrong gateway: nobody holds 192.0.2.254; DNS to the server still answers
ip netns exec wire2-gw busybox ping -c 3 -W 1 198.51.100.1 &
ip netns exec wire2-gw busybox nslookup example.test 192.0.2.1 &
# DNS to a host with no DNS server (port unreachable), to a server beyond any route (net unreachable), and the right one
ip netns exec wire2-dns sh -c 'for n in 1 2; do timeout 2 busybox nslookup example.test 192.0.2.9; timeout 2 busybox nslookup example.test 198.51.100.53; done' &
ip netns exec wire2-dns busybox nslookup example.test 192.0.2.1 &
# a netmask too short (/16): asks ARP for an address of another /24 itself; too long (/28): sends a neighbour's traffic to the gateway
ip netns exec wire2-nms busybox ping -c 3 -W 1 192.0.7.7 &
ip netns exec wire2-nml busybox ping -c 3 -W 1 192.0.2.56 &
# a lease from another network asked for on boot (INIT-REBOOT), NAKed; then asked again with nobody to answer
ip netns exec wire2-reb $REBOOT eth0 10.88.0.50
# IPv6: v6a holds fd42::50, v6b's duplicate address detection meets its advertisement
ip -n wire2-v6a addr add fd42::50/64 dev eth0
sleep 3
ip -n wire2-v6b addr add fd42::50/64 dev eth0
sleep 2
ip -n wire2-v6b -6 addr show dev eth0 | grep -q dadfailed && echo "v6b: dadfailed"
kill "$(cat /run/wire2-dnsmasq.pid)"
ip netns exec wire2-reb $REBOOT eth0 10.88.0.50
wait
# proxy ARP: prx answers ARP for every address routed through its own link (the server's, a peer's, nobody's)
addr prx 192.0.2.60/24 192.0.2.1
for k in net.ipv4.conf.eth0.proxy_arp=1 net.ipv4.conf.eth0.proxy_arp_pvlan=1 net.ipv4.conf.all.forwarding=1 net.ipv4.neigh.eth0.proxy_delay=0; do ip netns exec wire2-prx sysctl -qw $k; done
cap prx 8
sleep 1
ip netns exec wire2-dns sh -c 'for t in 192.0.2.1 192.0.2.55 192.0.2.77; do ip neigh flush all; busybox arping -c 2 -w 2 -I eth0 $t; done'
wait
for n in $C $(for x in $NS; do echo wire2-$x; done); do ip netns del $n; done
rm -f /run/wire2-dnsmasq.*
