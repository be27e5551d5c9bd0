#!/usr/bin/env bash
# record-uboot.sh VQSCOPE OUTDIR: U-Boot 2023.01 (Debian u-boot-qemu, qemu_arm64) on arm64
# `virt` with legacy virtio-mmio net and blk — the guest of capture-uboot-arm64.sh — run once
# under `vqscope record -o OUTDIR/run`, with QEMU's filter-dump on the netdev
# (OUTDIR/netdev.pcap). U-Boot's commands are typed at its prompt (uboot_console.py): a disk
# read, DHCP and a ping. check_record.py OUTDIR --expect INIT-SEQUENCE=2 then holds the
# recording to the trace and to filter-dump (U-Boot's two INIT-SEQUENCE errors are real:
# traces/README.md).
VQSCOPE=$(realpath "${1:?usage: record-uboot.sh VQSCOPE OUTDIR}")
OUTDIR=${2:?usage: record-uboot.sh VQSCOPE OUTDIR}
source "$(dirname "$0")/common.sh"
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
truncate -s 8M disk.img
cat > commands.txt <<'CMDS'
virtio scan
virtio read 0x40200000 0 20
setenv autoload no
dhcp
ping 10.0.2.2
poweroff
CMDS
start=$(date +%s.%N)
timeout 200 python3 "$CAPTURE_DIR/uboot_console.py" console.log commands.txt -- \
  "$VQSCOPE" record -o "$OUTDIR/run" -- \
  qemu-system-aarch64 -M virt -cpu cortex-a57 -accel tcg -m 256M -smp 1 -nodefaults -display none -no-reboot \
  -bios /usr/lib/u-boot/qemu_arm64/u-boot.bin -serial stdio -netdev user,id=n0,restrict=on \
  -device virtio-net-device,netdev=n0,id=net0,mac=52:54:00:12:34:56 \
  -object "filter-dump,id=fd0,netdev=n0,file=$OUTDIR/netdev.pcap" \
  -drive file=disk.img,if=none,id=d0,format=raw -device virtio-blk-device,drive=d0,id=blk0
end=$(date +%s.%N)
require_console console.log "is alive"
echo "{\"netdev\": {\"wallSeconds\": $(python3 -c "print(round($end - $start, 2))")}}" > "$OUTDIR/timing.json"
