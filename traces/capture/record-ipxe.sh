#!/usr/bin/env bash
# record-ipxe.sh VQSCOPE OUTDIR: the guest of capture-ipxe-pci.sh — iPXE (Debian ipxe-qemu)
# run by SeaBIOS on a modern-only virtio-net-pci NIC, DHCP and a TFTP download of a 512-byte
# network boot program that exits QEMU — run once under `vqscope record -o OUTDIR/run`, with
# QEMU's filter-dump on the netdev (OUTDIR/netdev.pcap). check_record.py OUTDIR then holds the
# recording to the trace and to filter-dump: a firmware driver that polls its rings.
VQSCOPE=$(realpath "${1:?usage: record-ipxe.sh VQSCOPE OUTDIR}")
OUTDIR=${2:?usage: record-ipxe.sh VQSCOPE OUTDIR}
source "$(dirname "$0")/common.sh"
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
mkdir -p tftp
python3 "$CAPTURE_DIR/make_bootsector.py" tftp/nbp.bin --nbp
start=$(date +%s.%N)
set +e
timeout 120 "$VQSCOPE" record -o "$OUTDIR/run" -- \
  qemu-system-x86_64 -M q35 -accel tcg -m 128M -smp 1 -nodefaults -display none -no-reboot \
  -serial file:console.log -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -netdev user,id=n0,restrict=on,tftp=tftp,bootfile=nbp.bin \
  -device virtio-net-pci,netdev=n0,id=net0,disable-legacy=on,disable-modern=off,bootindex=1 \
  -object "filter-dump,id=fd0,netdev=n0,file=$OUTDIR/netdev.pcap" </dev/null
status=$?
set -e
end=$(date +%s.%N)
# isa-debug-exit: QEMU's exit status (0x10 << 1) | 1 = 33, which record passes on.
[ "$status" -eq 33 ] || { echo "ERROR: vqscope record exited with $status, not QEMU's 33" >&2; cat console.log >&2; exit 1; }
require_console console.log "vqscope: network boot program ran"
echo "{\"netdev\": {\"wallSeconds\": $(python3 -c "print(round($end - $start, 2))")}}" > "$OUTDIR/timing.json"
