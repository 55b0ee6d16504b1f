#!/bin/sh
# Real firewall-cmd output for the firewalld probe's parser, from a firewalld (Debian 12, 1.3.3,
# nftables backend) that runs confined: its own network namespace (its rules touch nothing of the
# host's), its own mount namespace with a private /run (its own system bus), /var/log and a copy of
# /etc/firewalld. Run as root, under the lab lock:
#   flock /run/lock/kvmdoctor-lab.lock sh test/data/firewalld/capture.sh test/data/firewalld
set -eu
OUT=$(realpath "$1")
NS=kdlab-fw
ip netns add $NS
trap 'ip netns del $NS 2>/dev/null || true' EXIT
ip netns exec $NS unshare --mount --propagation private sh -eu -c '
  OUT=$1
  ETC=$(mktemp -d); cp -a /etc/firewalld/. "$ETC"/
  mount -t tmpfs tmpfs /run; mkdir -p /run/dbus /run/lock
  mount -t tmpfs tmpfs /var/log
  mount --bind "$ETC" /etc/firewalld
  ip link set lo up
  ip link add virbr0 type bridge; ip link set virbr0 up
  ip link add virbr1 type bridge; ip link set virbr1 up
  dbus-daemon --system --fork
  firewalld --nofork --nopid & FW=$!
  i=0; until [ "$(firewall-cmd --state 2>/dev/null)" = running ]; do i=$((i+1)); [ $i -lt 60 ] || exit 1; sleep 1; done
  firewall-cmd --zone=libvirt --change-interface=virbr0 >/dev/null
  cap() { name=$1; shift; LC_ALL=C "$@" >"$OUT/$name.stdout.txt" 2>"$OUT/$name.stderr.txt" && echo 0 >"$OUT/$name.exit.txt" || echo $? >"$OUT/$name.exit.txt"; }
  cap state-running firewall-cmd --state
  cap zone-libvirt firewall-cmd --get-zone-of-interface=virbr0
  cap zone-none firewall-cmd --get-zone-of-interface=virbr1
  cap version firewall-cmd --version
  LC_ALL=C nft -j list ruleset >"$OUT/../netfilter/firewalld-real.nft-j-list-ruleset.json"
  LC_ALL=C nft -a list ruleset >"$OUT/../netfilter/firewalld-real.nft-a-list-ruleset.txt"
  kill $FW; wait $FW || true
  kill "$(cat /run/dbus/pid)" || true
  rm -rf "$ETC"
' sh "$OUT"
