#!/usr/bin/env bash
# Builds the lab guest (kernel + busybox initramfs) once into $KD_LAB_CACHE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${KD_LAB_CACHE:-/var/cache/kvmdoctor-lab}
mkdir -p "$cache"
if [ -s "$cache/vmlinuz" ] && [ -s "$cache/initrd.gz" ] && [ "$cache/initrd.gz" -nt "$here/init" ]; then
  echo "guest image cached in $cache"; exit 0
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
(cd "$work" && apt-get download "$pkg" >/dev/null)
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
mknod -m 600 "$root/dev/console" c 5 1
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1 >"$cache/initrd.gz")
echo "guest image built in $cache from $pkg"
