#!/usr/bin/env bash
# iPXE (Debian's ipxe-qemu option ROM for virtio-net-pci, run by SeaBIOS) booting over a
# modern-only virtio-net-pci NIC on q35: DHCP from QEMU's user network, then a TFTP download
# of a 512-byte network boot program (traces/capture/make_bootsector.py --nbp) that prints
# to COM1 and exits QEMU through isa-debug-exit. Frames in both directions, driven by a
# firmware driver that polls instead of taking interrupts.
# -> traces/real/ipxe-pci.log.xz
EXPECTED_FINDINGS=""
source "$(dirname "$0")/common.sh"

QEMU=qemu-system-x86_64
QEMU_VERSION=$(qemu_version $QEMU)
GUEST="iPXE $(pkg_version ipxe-qemu) (Debian ipxe-qemu, efi-virtio.rom) run by SeaBIOS $(pkg_version seabios), booting a 512-byte network boot program over TFTP (traces/capture/make_bootsector.py --nbp)"

mkdir -p tftp
python3 "$CAPTURE_DIR/make_bootsector.py" tftp/nbp.bin --nbp
run_qemu 90 $QEMU -M q35 -accel tcg -m 128M -smp 1 -nodefaults -display none -no-reboot \
  -serial file:console.log -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -netdev user,id=n0,restrict=on,tftp=tftp,bootfile=nbp.bin \
  -device virtio-net-pci,netdev=n0,id=net0,disable-legacy=on,disable-modern=off,bootindex=1 \
  -msg timestamp=on -d guest_errors -trace events=events.txt -D trace.log
# isa-debug-exit: exit status (0x10 << 1) | 1 = 33 means the network boot program ran.
[ "$QEMU_RC" -eq 33 ] || { echo "ERROR: expected exit status 33" >&2; cat console.log >&2; exit 1; }
require_console console.log "vqscope: network boot program ran"
finish_capture ipxe-pci capture-ipxe-pci.sh virtio-pci "$GUEST"
