#!/bin/sh
# Recreates the kdparse-* network namespaces behind ../*.txt / *.json and
# lists them with the real tools. Run as root on a scratch machine; it never
# touches the host's own ruleset (everything happens inside the namespaces).
# Usage: sh capture.sh OUTDIR
set -eu
out=${1:?usage: capture.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
ns() { ip netns add "$1"; }
x() { n=$1; shift; ip netns exec "$n" "$@"; }
dump() { # dump NS NAME KIND...
  n=$1; name=$2; shift 2
  for k in "$@"; do case $k in
    v4) x "$n" iptables-save > "$out/$name.iptables-save.txt";;
    v4c) x "$n" iptables-save -c > "$out/$name.iptables-save-c.txt";;
    v6) x "$n" ip6tables-save > "$out/$name.ip6tables-save.txt";;
    leg4) x "$n" iptables-legacy-save > "$out/$name.iptables-legacy-save.txt";;
    leg4c) x "$n" iptables-legacy-save -c > "$out/$name.iptables-legacy-save-c.txt";;
    leg6) x "$n" ip6tables-legacy-save > "$out/$name.ip6tables-legacy-save.txt";;
    nft) x "$n" nft -j list ruleset > "$out/$name.nft-j-list-ruleset.json"
         x "$n" nft -a list ruleset > "$out/$name.nft-a-list-ruleset.txt" 2>/dev/null;;
    ipset) x "$n" ipset list > "$out/$name.ipset-list.txt"; x "$n" ipset save > "$out/$name.ipset-save.txt";;
  esac; done
}
sets() { # the ipsets the kitchen rules refer to
  x "$1" ipset create kd-block hash:net comment
  x "$1" ipset create kd-pairs hash:ip,port,ip
  x "$1" ipset create kd-svc hash:ip,port
}

# kitchen: every iptables option the parser knows (and some it does not), iptables-nft, with ipsets
ns kdparse-kit; sets kdparse-kit
x kdparse-kit iptables-restore < "$here/kitchen.v4.rules"
x kdparse-kit ip6tables-restore < "$here/kitchen.v6.rules"
x kdparse-kit ipset add kd-block 10.66.0.0/16 comment "bad net"
x kdparse-kit ipset add kd-block 203.0.113.99 comment 'one host, with comma'
x kdparse-kit ipset add kd-block 198.51.100.0/24 nomatch
x kdparse-kit ipset add kd-pairs 192.168.122.10,tcp:22,10.0.0.1
x kdparse-kit ipset add kd-svc 192.168.122.10,tcp:22
x kdparse-kit ipset add kd-svc 192.168.122.11,udp:53
x kdparse-kit ipset add kd-svc 192.168.122.12,80
x kdparse-kit ipset create kd-ports bitmap:port range 1024-2048
x kdparse-kit ipset add kd-ports 1080
x kdparse-kit ipset add kd-ports 1100-1105
x kdparse-kit ipset create kd-v6 hash:net family inet6 timeout 600 counters
x kdparse-kit ipset add kd-v6 2001:db8:bad::/48 timeout 300
x kdparse-kit ipset create kd-ifnets hash:net,iface
x kdparse-kit ipset add kd-ifnets 192.168.122.0/24,virbr0
x kdparse-kit ipset add kd-ifnets 10.0.0.0/8,eth0
x kdparse-kit ipset create kd-list list:set
x kdparse-kit ipset add kd-list kd-block
x kdparse-kit ipset add kd-list kd-v6
x kdparse-kit ipset create kd-empty hash:ip maxelem 1024
x kdparse-kit ipset create kd-range hash:ip
x kdparse-kit ipset add kd-range 10.9.9.1-10.9.9.3
x kdparse-kit iptables -A FORWARD -m set --match-set kd-ifnets src,src -j ACCEPT
x kdparse-kit iptables -A FORWARD -m set --match-set kd-list dst -j DROP
x kdparse-kit iptables -A FORWARD -p tcp -m set --match-set kd-ports dst -m set ! --match-set kd-empty src -j ACCEPT
x kdparse-kit ip6tables -A INPUT -m set --match-set kd-v6 src -j DROP
dump kdparse-kit kitchen v4 v4c v6 nft ipset

# the same rules through the legacy backend
ns kdparse-leg; sets kdparse-leg
x kdparse-leg iptables-legacy-restore < "$here/kitchen.v4.rules"
x kdparse-leg ip6tables-legacy-restore < "$here/kitchen.v6.rules"
dump kdparse-leg kitchen-legacy leg4c leg6

ns kdparse-dock; x kdparse-dock iptables-restore < "$here/docker.v4.rules"; dump kdparse-dock docker v4 nft
ns kdparse-ufw; x kdparse-ufw iptables-legacy-restore < "$here/ufw.v4.rules"; dump kdparse-ufw ufw leg4
ns kdparse-fwd; x kdparse-fwd nft -f "$here/firewalld.nft"; dump kdparse-fwd firewalld nft
ns kdparse-nat
x kdparse-nat ip link add kdeth0 type veth peer name kdeth0p
x kdparse-nat nft -f "$here/kitchen.nft"; dump kdparse-nat nft-native nft

# nft-native rules in an iptables-nft table: iptables-save prints "-A POSTROUTING" for the one it cannot decode
ns kdparse-inc
x kdparse-inc iptables -t nat -A POSTROUTING -s 10.9.0.0/24 -j MASQUERADE
x kdparse-inc nft add rule ip nat POSTROUTING ip saddr '{ 10.8.0.1, 10.8.0.2 }' oifname vmap '{ "eth0" : accept, "eth1" : drop }'
x kdparse-inc iptables -A FORWARD -i virbr0 -j ACCEPT
x kdparse-inc nft add table ip filter2
x kdparse-inc nft add chain ip nat weird '{ type nat hook prerouting priority -90; }'
dump kdparse-inc incompatible v4 nft

for n in kdparse-kit kdparse-leg kdparse-dock kdparse-ufw kdparse-fwd kdparse-nat kdparse-inc; do ip netns del $n; done

# nft objects, element options, dynamic sets, meters, named quotas/limits (flowtables did not load on the capture kernel)
ns kdparse-obj
x kdparse-obj ip link add kdeth0 type veth peer name kdeth0p
x kdparse-obj nft -f "$here/objects.nft"; dump kdparse-obj nft-objects nft
ip netns del kdparse-obj

# NAT maps: DNAT addresses (and ports) looked up in named and inline maps, keys of one field or a concatenation
ns kdparse-natmap
x kdparse-natmap nft -f "$here/nat-maps.nft"; dump kdparse-natmap nat-maps nft
ip netns del kdparse-natmap
