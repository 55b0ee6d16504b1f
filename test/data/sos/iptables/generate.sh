#!/usr/bin/env bash
# The listings sos records of iptables (`iptables -t TABLE -nvL` for each table, `iptables -vnxL`)
# next to `iptables-save -c` of the same rules, for the -nvL reader of the sosreport source. Each
# rule file of test/data/netfilter is loaded into a private namespace (sos-ipt) with iptables-nft
# and with iptables-legacy; nothing else is read or changed. Usage: bash generate.sh (root).
set -euo pipefail
cd "$(dirname "$0")"
SRC=../../netfilter
NS=sos-ipt
run() { ip netns exec $NS "$@"; }
capture() { # name variant(nft|legacy) family(4|6) rules-file
  local name=$1 variant=$2 family=$3 rules=$4
  local ipt=iptables save=iptables-save
  [ "$family" = 6 ] && ipt=ip6tables && save=ip6tables-save
  ip netns del $NS 2>/dev/null || true
  ip netns add $NS
  # The kitchen rules match ipsets: they must exist first.
  [ "$name" = kitchen ] && run ipset restore < $SRC/kitchen.ipset-save.txt
  run ${ipt}-${variant}-restore -c < "$rules"
  local out="$name.$variant.$ipt"
  for t in $(grep -o '^\*[a-z]*' "$rules" | tr -d '*'); do
    run ${ipt}-$variant -t "$t" -nvL > "$out.-t_${t}_-nvL"
  done
  run ${ipt}-$variant -vnxL > "$out.-vnxL"
  run ${save%-save}-${variant}-save -c | sed -E 's/^# (Generated|Completed) on .*/# \1 on (date)/' > "$out.save-c"
  ip netns del $NS
}
capture kitchen nft 4 $SRC/kitchen.iptables-save-c.txt
capture kitchen legacy 4 $SRC/kitchen-legacy.iptables-legacy-save-c.txt
capture kitchen nft 6 $SRC/kitchen.ip6tables-save.txt
capture docker nft 4 $SRC/docker.iptables-save.txt
capture ufw legacy 4 $SRC/ufw.iptables-legacy-save.txt
capture libvirt nft 4 $SRC/libvirt-iptables.iptables-save.txt
capture libvirt nft 6 $SRC/libvirt-iptables.ip6tables-save.txt
