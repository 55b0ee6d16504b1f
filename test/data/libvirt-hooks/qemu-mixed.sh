#!/bin/sh
# Forms a hook script takes: a case on the guest name, an inline test, a value computed at run time,
# nft and firewall-cmd commands (kvmdoctor does not read those), and listing commands (they add nothing).
WEB=192.168.122.10
case "$1" in
  kdlab-web01)
    iptables -w -t nat -A PREROUTING -i eth0 -p tcp --dport 8443 -j DNAT --to-destination "$WEB:443"
    ;;
  kdlab-db01|kdlab-db02)
    DB=$(virsh domifaddr "$1" | awk '/ipv4/ {print $4}')
    iptables -t nat -A PREROUTING -p tcp --dport 5432 -j DNAT --to-destination $DB
    ;;
esac
[ "$1" = kdlab-mail01 ] && iptables -t nat -I PREROUTING 1 -p udp --dport 2525 -j DNAT --to 192.168.122.30:25
nft add rule ip nat prerouting tcp dport 9090 dnat to 192.168.122.11
iptables -t nat -L PREROUTING -n
firewall-cmd --state
