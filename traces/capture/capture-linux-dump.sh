#!/usr/bin/env bash
# capture-linux-dump.sh OUTDIR [pci|pci-packed|mmio|mmio-legacy]
# Boots the Linux 6.1 guest of the real captures with `vqscope.hold` (its /init stays up
# after "traffic done"): on q35 with modern virtio-pci devices (pci, the default, as
# capture-linux-pci.sh; pci-packed: the same devices with packed=on, so the driver negotiates
# VIRTIO_F_RING_PACKED), or on microvm with virtio-mmio version 2 (mmio) or legacy version 1
# (mmio-legacy) devices, as capture-linux-mmio.sh. After the traffic, qmp_dump.py records
# every queue's rings over QMP (x-query-virtio-queue-status) and writes an ELF memory dump:
# OUTDIR/dump.elf (256 MiB, never committed), OUTDIR/queues.json and the raw QMP exchange
# OUTDIR/qmp.jsonl, and the QEMU trace OUTDIR/trace.log (whose virtio-mmio register writes
# locate the rings too, in the mmio modes; in the pci modes its memory_region_ops_write
# events, the common configuration writes among them), and OUTDIR/netdev.pcap, QEMU's own record of the
# frames on the user-mode network (filter-dump). check_dump.py then runs `vqscope inspect`,
# `vqscope analyze --dump` and `vqscope pcap` on them.
source "$(dirname "$0")/common.sh"
OUTDIR=${1:?usage: capture-linux-dump.sh OUTDIR [pci|pci-packed|mmio|mmio-legacy]}
MODE=${2:-pci}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

bash "$CAPTURE_DIR/build-initramfs.sh" "$WORK"
truncate -s 8M disk.img
rm -f "$OUTDIR/dump.elf" "$OUTDIR/queues.json" "$OUTDIR/qmp.jsonl" "$OUTDIR/trace.log" "$OUTDIR/netdev.pcap"
echo "$MODE" > "$OUTDIR/mode"
python3 "$CAPTURE_DIR/qmp_dump.py" qmp.sock console.log "$OUTDIR/dump.elf" "$OUTDIR/queues.json" "$OUTDIR/qmp.jsonl" \
  "$OUTDIR/trace.log" &
dumper=$!
COMMON=(-accel tcg -m 256M -smp 1 -nodefaults -display none -no-reboot -initrd initramfs.cpio.gz
  -serial file:console.log -netdev user,id=n0,restrict=on -drive file=disk.img,if=none,id=d0,format=raw
  -object filter-dump,id=fd0,netdev=n0,file="$OUTDIR/netdev.pcap"
  -object rng-random,id=rng0,filename=/dev/urandom -chardev file,id=c0,path=hvc0.out
  -qmp unix:qmp.sock,server=on,wait=off)
case "$MODE" in
  pci|pci-packed)
    PCI=disable-legacy=on,disable-modern=off
    [ "$MODE" = pci-packed ] && PCI=$PCI,packed=on
    echo memory_region_ops_write >> events.txt
    run_qemu 240 qemu-system-x86_64 -M q35 "${COMMON[@]}" \
      -kernel vmlinuz -append "console=ttyS0 panic=-1 quiet vqscope.hold" \
      -device virtio-net-pci,netdev=n0,id=net0,mac=52:54:00:12:34:56,$PCI \
      -device virtio-blk-pci,drive=d0,id=blk0,$PCI \
      -device virtio-rng-pci,rng=rng0,id=rng,$PCI \
      -device virtio-serial-pci,id=ser0,$PCI \
      -device virtconsole,chardev=c0,id=vcon0 \
      -msg timestamp=on -d guest_errors -trace events=events.txt -D "$OUTDIR/trace.log" ;;
  mmio|mmio-legacy)
    MMIO_ARGS=()
    [ "$MODE" = mmio ] && MMIO_ARGS=(-global virtio-mmio.force-legacy=false)
    run_qemu 240 qemu-system-x86_64 -M microvm,acpi=on,rtc=on "${COMMON[@]}" "${MMIO_ARGS[@]}" \
      -kernel vmlinuz -append "console=ttyS0 panic=-1 quiet tsc_early_khz=2400000 vqscope.hold" \
      -device virtio-net-device,netdev=n0,id=net0,mac=52:54:00:12:34:56 \
      -device virtio-blk-device,drive=d0,id=blk0 \
      -device virtio-rng-device,rng=rng0,id=rng \
      -device virtio-serial-device,id=ser0 \
      -device virtconsole,chardev=c0,id=vcon0 \
      -msg timestamp=on -d guest_errors -trace events=events.txt -D "$OUTDIR/trace.log" ;;
  *) echo "usage: $0 OUTDIR [pci|pci-packed|mmio|mmio-legacy]" >&2; exit 64 ;;
esac
wait "$dumper"
require_console console.log "traffic done"
[ -s "$OUTDIR/dump.elf" ] && [ -s "$OUTDIR/queues.json" ] && [ -s "$OUTDIR/qmp.jsonl" ] \
  || { echo "ERROR: no dump" >&2; exit 1; }
echo "wrote $OUTDIR/dump.elf ($(stat -c %s "$OUTDIR/dump.elf") bytes), $OUTDIR/queues.json, $OUTDIR/qmp.jsonl"
