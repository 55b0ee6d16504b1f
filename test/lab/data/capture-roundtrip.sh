#!/bin/bash
# A real `nft -a monitor trace` of a guest's four measures, both ways, for the kernel oracle's parser and
# comparison tests (trace-roundtrip.txt, trace-roundtrip.ruleset.json): namespaces shaped like the lab host
# (libvirt's iptables-nft rules for virbr0 with every built-in chain registered, as iptables-restore leaves them;
# dnsmasq serving DHCP and DNS; a NATed way to 203.0.113.10 in another namespace), a guest namespace doing what
# guest/kd-reach does, twice (the second DHCP exchange reuses the first one's conntrack entry). Run as root from
# this directory; nothing outside the three namespaces is touched.
set -eu
P=kdtrace
DIR=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
cleanup() {
  [ -f "$WORK/dnsmasq.pid" ] && kill "$(cat "$WORK/dnsmasq.pid")" 2>/dev/null || true
  for n in h g i; do ip netns pids $P-$n 2>/dev/null | xargs -r kill 2>/dev/null || true; ip netns del $P-$n 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
cleanup 2>/dev/null; WORK=$(mktemp -d)
for n in h g i; do ip netns add $P-$n; ip -n $P-$n link set lo up; done
H="ip netns exec $P-h"; G="ip netns exec $P-g"; I="ip netns exec $P-i"
$H ip link add virbr0 type bridge stp_state 0 forward_delay 0
$H ip addr add 192.168.122.1/24 dev virbr0
$H ip link set virbr0 up
$H ip link add vnet0 type veth peer name eth0 netns $P-g
$H ip link set vnet0 master virbr0 up
$G ip link set eth0 address 52:54:00:6b:64:01
$G ip link set eth0 up
$H ip link add kdlab-up0 type veth peer name kdlab-up1 netns $P-i
$H ip addr add 198.51.100.1/24 dev kdlab-up0
$H ip link set kdlab-up0 up
$I ip addr add 198.51.100.2/24 dev kdlab-up1
$I ip link set kdlab-up1 up
$I ip addr add 203.0.113.10/32 dev lo
$H ip route add 203.0.113.10/32 via 198.51.100.2 dev kdlab-up0
$H sysctl -qw net.ipv4.ip_forward=1
$H iptables-restore <<'EOF'
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:LIBVIRT_PRT - [0:0]
-A POSTROUTING -j LIBVIRT_PRT
-A LIBVIRT_PRT -o virbr0 -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:LIBVIRT_FWI - [0:0]
:LIBVIRT_FWO - [0:0]
:LIBVIRT_FWX - [0:0]
:LIBVIRT_INP - [0:0]
:LIBVIRT_OUT - [0:0]
-A INPUT -j LIBVIRT_INP
-A FORWARD -j LIBVIRT_FWX
-A FORWARD -j LIBVIRT_FWI
-A FORWARD -j LIBVIRT_FWO
-A OUTPUT -j LIBVIRT_OUT
-A LIBVIRT_FWI -d 192.168.122.0/24 -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A LIBVIRT_FWI -o virbr0 -j REJECT --reject-with icmp-port-unreachable
-A LIBVIRT_FWO -s 192.168.122.0/24 -i virbr0 -j ACCEPT
-A LIBVIRT_FWO -i virbr0 -j REJECT --reject-with icmp-port-unreachable
-A LIBVIRT_FWX -i virbr0 -o virbr0 -j ACCEPT
-A LIBVIRT_INP -i virbr0 -p udp -m udp --dport 53 -j ACCEPT
-A LIBVIRT_INP -i virbr0 -p tcp -m tcp --dport 53 -j ACCEPT
-A LIBVIRT_INP -i virbr0 -p udp -m udp --dport 67 -j ACCEPT
-A LIBVIRT_INP -i virbr0 -p tcp -m tcp --dport 67 -j ACCEPT
-A LIBVIRT_OUT -o virbr0 -p udp -m udp --dport 53 -j ACCEPT
-A LIBVIRT_OUT -o virbr0 -p tcp -m tcp --dport 53 -j ACCEPT
-A LIBVIRT_OUT -o virbr0 -p udp -m udp --dport 68 -j ACCEPT
-A LIBVIRT_OUT -o virbr0 -p tcp -m tcp --dport 68 -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:LIBVIRT_PRT - [0:0]
-A POSTROUTING -j LIBVIRT_PRT
-A LIBVIRT_PRT -s 192.168.122.0/24 -d 224.0.0.0/24 -j RETURN
-A LIBVIRT_PRT -s 192.168.122.0/24 -d 255.255.255.255/32 -j RETURN
-A LIBVIRT_PRT -s 192.168.122.0/24 ! -d 192.168.122.0/24 -p tcp -j MASQUERADE --to-ports 1024-65535
-A LIBVIRT_PRT -s 192.168.122.0/24 ! -d 192.168.122.0/24 -p udp -j MASQUERADE --to-ports 1024-65535
-A LIBVIRT_PRT -s 192.168.122.0/24 ! -d 192.168.122.0/24 -j MASQUERADE
COMMIT
EOF
mkdir -p "$WORK/www"
echo KDLAB-INET-OK >"$WORK/www/index.html"
$I busybox httpd -p 203.0.113.10:80 -h "$WORK/www"
$H dnsmasq --conf-file=/dev/null --pid-file="$WORK/dnsmasq.pid" --interface=virbr0 --bind-dynamic --except-interface=lo --no-resolv \
  --dhcp-range=192.168.122.2,192.168.122.254 --dhcp-leasefile="$WORK/leases" --host-record=kdlab-inet,203.0.113.10 --user=root
cat >"$WORK/udhcpc.sh" <<'EOF'
#!/bin/sh
case "$1" in bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/${mask:-24}" dev "$interface"; ip route add default via "${router%% *}" dev "$interface" ;; esac
EOF
chmod +x "$WORK/udhcpc.sh"
# The bridge port forwards at once (no STP), but give the guest a few tries at its lease.
$G busybox udhcpc -i eth0 -n -q -t 5 -T 1 -s "$WORK/udhcpc.sh" >/dev/null 2>&1
A=$($G ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
[ -n "$A" ] || { echo "the guest got no lease" >&2; exit 1; }
$H stdbuf -oL nft -a monitor trace >"$WORK/trace.txt" &
MON=$!
sleep 0.5
$H nft -f - <<EOF
table inet kdlab_trace {
  chain prerouting { type filter hook prerouting priority -500; policy accept; meta nfproto ipv4 ether saddr { 52:54:00:6b:64:01 } meta nftrace set 1; ip saddr { 203.0.113.10 } meta nftrace set 1; }
  chain output { type filter hook output priority -500; policy accept; ip daddr { $A } meta nftrace set 1; udp sport 67 udp dport 68 meta nftrace set 1; }
}
table bridge kdlab_trace {
  chain prerouting { type filter hook prerouting priority -500; policy accept; ether type ip ether saddr { 52:54:00:6b:64:01 } meta nftrace set 1; ether type ip ether daddr { 52:54:00:6b:64:01 } meta nftrace set 1; udp sport 67 udp dport 68 meta nftrace set 1; }
}
EOF
$H nft -a -j list ruleset >"$DIR/trace-roundtrip.ruleset.json"
$H conntrack -F 2>/dev/null
for round in 1 2; do
  $G busybox udhcpc -i eth0 -n -q -t 2 -T 1 -s /bin/true -r "$A" >/dev/null 2>&1 &
  $G busybox nslookup -type=a kdlab-inet 192.168.122.1 >/dev/null 2>&1 &
  $G busybox ping -c 1 -W 2 203.0.113.10 >/dev/null 2>&1 &
  (printf 'GET / HTTP/1.0\r\n\r\n' | $G timeout 4 busybox nc -w 3 203.0.113.10 80 >/dev/null 2>&1) &
  wait %2 %3 %4 %5 2>/dev/null || true
done
sleep 0.5
kill $MON
wait $MON 2>/dev/null || true
# Counters and the monitor's own chatter vary from run to run; the events are what the tests read.
grep '^trace id ' "$WORK/trace.txt" >"$DIR/trace-roundtrip.txt"
echo "guest $A: $(wc -l <"$DIR/trace-roundtrip.txt") trace lines"
