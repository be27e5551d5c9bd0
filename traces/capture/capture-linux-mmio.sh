#!/usr/bin/env bash
# Linux 6.1 guest on microvm with virtio-mmio net, blk, rng and virtio-serial + virtconsole.
#   capture-linux-mmio.sh          modern (version 2) virtio-mmio -> traces/real/linux-mmio.log.xz
#   capture-linux-mmio.sh legacy   legacy (version 1: GuestPageSize/QueuePFN), QEMU's default
#                                  -> traces/real/linux-mmio-legacy.log.xz
INTERFACE=${1:-modern}
case "$INTERFACE" in
  modern) NAME=linux-mmio; TRANSPORT=virtio-mmio; MMIO_ARGS=(-global virtio-mmio.force-legacy=false) ;;
  legacy) NAME=linux-mmio-legacy; TRANSPORT=virtio-mmio-legacy; MMIO_ARGS=() ;;
  *) echo "usage: $0 [modern|legacy]" >&2; exit 64 ;;
esac
source "$(dirname "$0")/common.sh"

bash "$CAPTURE_DIR/build-initramfs.sh" "$WORK"
KVER=$(cat kernel-version)
truncate -s 8M disk.img
QEMU=qemu-system-x86_64
QEMU_VERSION=$(qemu_version $QEMU)

# microvm: ACPI describes the virtio-mmio devices (LNRO0005) to Linux; the
# isa-serial port exists because -serial is given.  tsc_early_khz avoids a
# hang calibrating the PIT on a loaded host.
run_qemu 180 $QEMU -M microvm,acpi=on,rtc=on -accel tcg -m 256M -smp 1 -nodefaults -display none -no-reboot \
  "${MMIO_ARGS[@]}" \
  -kernel vmlinuz -initrd initramfs.cpio.gz -append "console=ttyS0 panic=-1 quiet tsc_early_khz=2400000" \
  -serial file:console.log -netdev user,id=n0,restrict=on \
  -device virtio-net-device,netdev=n0,id=net0,mac=52:54:00:12:34:56 \
  -drive file=disk.img,if=none,id=d0,format=raw \
  -device virtio-blk-device,drive=d0,id=blk0 \
  -object rng-random,id=rng0,filename=/dev/urandom \
  -device virtio-rng-device,rng=rng0,id=rng \
  -device virtio-serial-device,id=ser0 \
  -chardev file,id=c0,path=hvc0.out -device virtconsole,chardev=c0,id=vcon0 \
  -msg timestamp=on -d guest_errors -trace events=events.txt -D trace.log

require_console console.log "traffic done"
require_console hvc0.out "hello from vqscope guest"
finish_capture $NAME "capture-linux-mmio.sh $INTERFACE" $TRANSPORT \
  "Linux $KVER (Debian linux-image-$KVER $(pkg_version linux-image-$KVER)), busybox-static $(pkg_version busybox-static) initramfs; qboot (bios-microvm.bin) firmware"
