#!/usr/bin/env bash
# Linux 6.1 guest on q35 with modern-only virtio-pci net, blk, rng and
# virtio-serial + virtconsole -> traces/real/linux-pci.log.xz
# SeaBIOS and U-Boot findings: see traces/README.md, "Findings on real drivers".
EXPECTED_FINDINGS="INIT-SEQUENCE-MERGED-STEPS=1"
source "$(dirname "$0")/common.sh"
NAME=linux-pci

bash "$CAPTURE_DIR/build-initramfs.sh" "$WORK"
KVER=$(cat kernel-version)
truncate -s 8M disk.img
QEMU=qemu-system-x86_64
QEMU_VERSION=$(qemu_version $QEMU)

run_qemu 180 $QEMU -M q35 -accel tcg -m 256M -smp 1 -nodefaults -display none -no-reboot \
  -kernel vmlinuz -initrd initramfs.cpio.gz -append "console=ttyS0 panic=-1 quiet" \
  -serial file:console.log -netdev user,id=n0,restrict=on \
  -device virtio-net-pci,netdev=n0,id=net0,mac=52:54:00:12:34:56,disable-legacy=on,disable-modern=off \
  -drive file=disk.img,if=none,id=d0,format=raw \
  -device virtio-blk-pci,drive=d0,id=blk0,disable-legacy=on,disable-modern=off \
  -object rng-random,id=rng0,filename=/dev/urandom \
  -device virtio-rng-pci,rng=rng0,id=rng,disable-legacy=on,disable-modern=off \
  -device virtio-serial-pci,id=ser0,disable-legacy=on,disable-modern=off \
  -chardev file,id=c0,path=hvc0.out -device virtconsole,chardev=c0,id=vcon0 \
  -msg timestamp=on -d guest_errors -trace events=events.txt -D trace.log

require_console console.log "traffic done"
require_console hvc0.out "hello from vqscope guest"
finish_capture $NAME capture-linux-pci.sh virtio-pci \
  "Linux $KVER (Debian linux-image-$KVER $(pkg_version linux-image-$KVER)), busybox-static $(pkg_version busybox-static) initramfs; SeaBIOS $(pkg_version seabios) firmware"
