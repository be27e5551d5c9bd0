#!/usr/bin/env bash
# SeaBIOS (QEMU's default x86 firmware) driving a modern-only virtio-blk-pci
# disk on q35: it boots a hand-assembled boot sector that reads/writes the disk
# through int 13h, prints to COM1 and exits via isa-debug-exit.
# Captured twice: with -msg timestamp=on -> traces/real/seabios-blk.log.xz and
# without it -> traces/real/seabios-blk-notime.log.xz
# SeaBIOS and U-Boot findings: see traces/README.md, "Findings on real drivers".
EXPECTED_FINDINGS="INIT-SEQUENCE-MERGED-STEPS=1"
source "$(dirname "$0")/common.sh"

QEMU=qemu-system-x86_64
QEMU_VERSION=$(qemu_version $QEMU)
GUEST="SeaBIOS $(pkg_version seabios) (Debian seabios, bios-256k.bin) booting a 512-byte boot sector (traces/capture/make_bootsector.py)"

capture() { # NAME TIMESTAMP_ARGS...
  local name=$1; shift
  rm -f disk.img trace.log console.log seabios.log
  truncate -s 1M disk.img
  python3 "$CAPTURE_DIR/make_bootsector.py" bootsector.bin
  dd if=bootsector.bin of=disk.img conv=notrunc status=none
  run_qemu 60 $QEMU -M q35 -accel tcg -m 128M -smp 1 -nodefaults -display none -no-reboot \
    -serial file:console.log \
    -chardev file,id=dbg,path=seabios.log -device isa-debugcon,iobase=0x402,chardev=dbg \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -drive file=disk.img,if=none,id=d0,format=raw \
    -device virtio-blk-pci,drive=d0,id=blk0,disable-legacy=on,disable-modern=off,bootindex=1 \
    "$@" -d guest_errors -trace events=events.txt -D trace.log
  # isa-debug-exit: exit status (0x10 << 1) | 1 = 33 means the boot sector ran.
  [ "$QEMU_RC" -eq 33 ] || { echo "ERROR: expected exit status 33" >&2; cat seabios.log >&2; exit 1; }
  require_console console.log "vqscope: boot sector ran"
  local ts=true
  [ $# -eq 0 ] && ts=false
  finish_capture "$name" capture-seabios-blk.sh virtio-pci "$GUEST" "$ts"
}

capture seabios-blk -msg timestamp=on
capture seabios-blk-notime
