#!/usr/bin/env bash
# Builds the lab guest (kernel + busybox initramfs) into $KD_LAB_CACHE, again whenever
# what goes into it changed: the cache is keyed by a sha256 over the guest scripts, this
# script, the busybox binary and the kernel package (name and version), kept in $cache/stamp.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${KD_LAB_CACHE:-/var/cache/kvmdoctor-lab}
mkdir -p "$cache"
# Guest scripts: everything beside this file except this file, installed into /bin of the guest
# (init and udhcpc.script have their own places); a C source (NAME.c) is built static into /bin/NAME.
scripts=$(cd "$here" && ls | grep -v -x -e build.sh -e init -e udhcpc.script | sort || true)
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}' || true)
ver=
[ -z "$pkg" ] || ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2; exit}' || true)
if [ -z "$pkg" ] || [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
  # No package lists (apt-get update not run): keep the kernel the cache was built with.
  [ -s "$cache/kernel" ] || { echo "no kernel package found: run apt-get update (or .ci/lab-deps) first" >&2; exit 1; }
  read -r pkg ver <"$cache/kernel"
fi
stamp=$( {
  for f in init udhcpc.script $scripts build.sh; do printf '%s ' "$f"; sha256sum <"$here/$f"; done
  printf 'busybox '; sha256sum </bin/busybox
  printf 'cc '; cc --version | head -n 1
  printf 'kernel %s %s\n' "$pkg" "$ver"
} | sha256sum | cut -d' ' -f1)
if [ -s "$cache/vmlinuz" ] && [ -s "$cache/initrd.gz" ] && [ "$(cat "$cache/stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "guest image cached in $cache ($stamp)"; exit 0
fi
rm -f "$cache/stamp"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download "$pkg=$ver" >/dev/null)
dpkg-deb -x "$work"/*.deb "$work/k"
cp "$work"/k/boot/vmlinuz-* "$cache/vmlinuz"
root="$work/root"; mkdir -p "$root"/{bin,lib/modules,etc,dev,proc,sys,tmp}
cp /bin/busybox "$root/bin/busybox"
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net; do
  f=$(find "$work/k/lib/modules" -name "$m.ko*" | head -n 1)
  [ -n "$f" ] || continue
  case "$f" in
    *.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
    *.zst) zstd -qdc "$f" >"$root/lib/modules/$m.ko" ;;
    *) cp "$f" "$root/lib/modules/$m.ko" ;;
  esac
done
install -m 755 "$here/init" "$root/init"
install -m 755 "$here/udhcpc.script" "$root/etc/udhcpc.script"
for f in $scripts; do
  case "$f" in
    *.c) cc -static -Os -s -Wall -o "$root/bin/${f%.c}" "$here/$f" ;;
    *) install -m 755 "$here/$f" "$root/bin/$f" ;;
  esac
done
mknod -m 600 "$root/dev/console" c 5 1
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1 >"$cache/initrd.gz")
echo "$pkg $ver" >"$cache/kernel"
echo "$stamp" >"$cache/stamp"
echo "guest image built in $cache from $pkg $ver ($stamp)"
