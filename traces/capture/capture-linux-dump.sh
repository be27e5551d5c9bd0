#!/usr/bin/env bash
# capture-linux-dump.sh OUTDIR
# Boots the Linux 6.1 guest of capture-linux-pci.sh on q35 with modern virtio-pci devices,
# lets it do its traffic, then over QMP records every queue's rings (x-query-virtio-queue-status)
# and writes an ELF memory dump: OUTDIR/dump.elf (256 MiB, never committed),
# OUTDIR/queues.json and the raw QMP exchange OUTDIR/qmp.jsonl. check_dump.py then runs
# `vqscope inspect` on them.
source "$(dirname "$0")/common.sh"
OUTDIR=${1:?usage: capture-linux-dump.sh OUTDIR}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

bash "$CAPTURE_DIR/build-initramfs.sh" "$WORK"
truncate -s 8M disk.img
rm -f "$OUTDIR/dump.elf" "$OUTDIR/queues.json" "$OUTDIR/qmp.jsonl"
python3 "$CAPTURE_DIR/qmp_dump.py" qmp.sock console.log "$OUTDIR/dump.elf" "$OUTDIR/queues.json" "$OUTDIR/qmp.jsonl" &
dumper=$!
run_qemu 240 qemu-system-x86_64 -M q35 -accel tcg -m 256M -smp 1 -nodefaults -display none -no-reboot \
  -kernel vmlinuz -initrd initramfs.cpio.gz -append "console=ttyS0 panic=-1 quiet vqscope.hold" \
  -serial file:console.log -netdev user,id=n0,restrict=on \
  -device virtio-net-pci,netdev=n0,id=net0,mac=52:54:00:12:34:56,disable-legacy=on,disable-modern=off \
  -drive file=disk.img,if=none,id=d0,format=raw \
  -device virtio-blk-pci,drive=d0,id=blk0,disable-legacy=on,disable-modern=off \
  -object rng-random,id=rng0,filename=/dev/urandom \
  -device virtio-rng-pci,rng=rng0,id=rng,disable-legacy=on,disable-modern=off \
  -device virtio-serial-pci,id=ser0,disable-legacy=on,disable-modern=off \
  -chardev file,id=c0,path=hvc0.out -device virtconsole,chardev=c0,id=vcon0 \
  -qmp unix:qmp.sock,server=on,wait=off
wait "$dumper"
require_console console.log "traffic done"
[ -s "$OUTDIR/dump.elf" ] && [ -s "$OUTDIR/queues.json" ] && [ -s "$OUTDIR/qmp.jsonl" ] \
  || { echo "ERROR: no dump" >&2; exit 1; }
echo "wrote $OUTDIR/dump.elf ($(stat -c %s "$OUTDIR/dump.elf") bytes), $OUTDIR/queues.json, $OUTDIR/qmp.jsonl"
