#!/usr/bin/env bash
# build-initramfs.sh OUTDIR
# Builds OUTDIR/initramfs.cpio.gz (busybox-static + the Debian kernel's virtio
# modules + a small /init workload) and copies the kernel to OUTDIR/vmlinuz.
# Uses only files from Debian packages (linux-image-amd64, busybox-static).
set -euo pipefail

OUTDIR=${1:?usage: build-initramfs.sh OUTDIR}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

# Newest installed kernel (linux-image-amd64 depends on exactly one).
VMLINUZ=$(ls -1 /boot/vmlinuz-*-amd64 | sort -V | tail -n1)
KVER=${VMLINUZ#/boot/vmlinuz-}
MODDIR=/lib/modules/$KVER
[ -d "$MODDIR" ] || { echo "no $MODDIR" >&2; exit 1; }
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || { echo "busybox-static missing ($BUSYBOX)" >&2; exit 1; }

# Load order matters: dependencies first (see modules.dep).
MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
         virtio_mmio failover net_failover virtio_net virtio_blk virtio_console virtio-rng virtio_input)

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,sbin,dev,proc,sys,tmp,etc/udhcpc,lib/modules,usr/bin,usr/sbin}
cp "$BUSYBOX" "$ROOT/bin/busybox"
for app in sh mount mkdir insmod ip ifconfig route udhcpc ping dd echo cat sleep \
           poweroff sync hexdump printf dmesg ls uname mknod; do
  ln -s busybox "$ROOT/bin/$app"
done

# Copy (and decompress, if needed) each module.
for m in "${MODULES[@]}"; do
  f=$(find "$MODDIR/kernel" \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" -o -name "$m.ko.gz" \) | head -n1)
  [ -n "$f" ] || { echo "module $m not found under $MODDIR" >&2; exit 1; }
  dst=$ROOT/lib/modules/$m.ko
  case "$f" in
    *.ko.xz)  xz -dc "$f" > "$dst" ;;
    *.ko.zst) zstd -qdc "$f" > "$dst" ;;
    *.ko.gz)  gzip -dc "$f" > "$dst" ;;
    *.ko)     cp "$f" "$dst" ;;
  esac
done
printf '%s\n' "${MODULES[@]}" > "$ROOT/lib/modules/order"

cat > "$ROOT/etc/udhcpc/default.script" <<'SCRIPT'
#!/bin/sh
# Minimal busybox udhcpc hook: set the leased address on the interface.
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface"
    echo "udhcpc: $interface $ip/${mask:-24} router=${router:-none}" ;;
esac
exit 0
SCRIPT
chmod +x "$ROOT/etc/udhcpc/default.script"

cat > "$ROOT/init" <<'INIT'
#!/bin/sh
# vqscope capture workload: load virtio drivers, generate a little traffic on
# each device (net, blk, rng, console), then power off.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "init: kernel $(uname -r)"
for m in $(cat /lib/modules/order); do
  insmod /lib/modules/$m.ko || echo "init: insmod $m failed"
done
sleep 1
ls /dev/vda /dev/hwrng /dev/hvc0 2>&1
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -n -q -t 5 -T 2 -s /etc/udhcpc/default.script || echo "init: udhcpc failed"
ping -c 5 -W 2 10.0.2.2 || echo "init: ping failed"
# "vqscope.mtu": one echo request of exactly the interface's MTU (an IPv4 packet of that size).
if grep -q vqscope.mtu /proc/cmdline; then
  ping -c 1 -W 2 -s $(( $(cat /sys/class/net/eth0/mtu) - 28 )) 10.0.2.2 || echo "init: mtu ping failed"
fi
echo "init: blk read"
dd if=/dev/vda of=/dev/null bs=4096 count=64 iflag=direct || dd if=/dev/vda of=/dev/null bs=4096 count=64
echo "init: blk write"
echo "vqscope capture $(uname -r)" | dd of=/dev/vda bs=512 seek=2048 conv=sync,fsync
dd if=/dev/vda bs=512 skip=2048 count=1 iflag=direct 2>/dev/null | hexdump -C | head -n 2
# "vqscope.serial" on the kernel command line: read the disk's serial (a GET_ID request).
if grep -q vqscope.serial /proc/cmdline; then
  echo "init: blk serial $(cat /sys/block/vda/serial)"
fi
echo "init: rng read"
dd if=/dev/hwrng bs=16 count=8 2>/dev/null | hexdump -C | head -n 2
echo "init: console write"
echo "hello from vqscope guest over virtio-console" > /dev/hvc0
sync
echo "traffic done"
sleep 1
# "vqscope.hold" on the kernel command line keeps the guest up for a memory dump.
if grep -q vqscope.hold /proc/cmdline; then
  echo "holding for a memory dump"
  while true; do sleep 60; done
fi
poweroff -f
INIT
chmod +x "$ROOT/init"

(cd "$ROOT" && find . -print0 | sort -z | cpio --null -o -H newc --quiet --owner=0:0) | gzip -9 > "$OUTDIR/initramfs.cpio.gz"
cp "$VMLINUZ" "$OUTDIR/vmlinuz"
echo "$KVER" > "$OUTDIR/kernel-version"
echo "build-initramfs: $OUTDIR/initramfs.cpio.gz ($(stat -c %s "$OUTDIR/initramfs.cpio.gz") bytes), kernel $KVER"
