#!/usr/bin/env bash
# U-Boot 2023.01 (Debian u-boot-qemu, qemu_arm64) on arm64 `virt` with legacy
# virtio-mmio blk and net (the U-Boot / barebox setup).  U-Boot's autoboot
# (distro_bootcmd) probes the disk and does DHCP+TFTP; then commands are typed
# at the `=> ` prompt (uboot_console.py) -> traces/real/uboot-arm64-mmio-legacy.log.xz
# SeaBIOS and U-Boot findings: see traces/README.md, "Findings on real drivers".
EXPECTED_FINDINGS="INIT-SEQUENCE=2"
source "$(dirname "$0")/common.sh"
NAME=uboot-arm64-mmio-legacy

truncate -s 8M disk.img
printf 'vqscope disk sector 0\n' | dd of=disk.img conv=notrunc status=none
cat > commands.txt <<'CMDS'
virtio scan
virtio info
virtio dev 0
virtio read 0x40200000 0 20
mw.b 0x40200000 0x5a 0x200
virtio write 0x40200000 100 1
setenv autoload no
dhcp
ping 10.0.2.2
poweroff
CMDS
QEMU=qemu-system-aarch64
QEMU_VERSION=$(qemu_version $QEMU)
UBOOT=/usr/lib/u-boot/qemu_arm64/u-boot.bin

QEMU_DRIVER="python3 $CAPTURE_DIR/uboot_console.py console.log commands.txt" \
run_qemu 120 $QEMU -M virt -cpu cortex-a57 -accel tcg -m 256M -smp 1 -nodefaults -display none -no-reboot \
  -bios $UBOOT -serial stdio -netdev user,id=n0,restrict=on \
  -device virtio-net-device,netdev=n0,id=net0,mac=52:54:00:12:34:56 \
  -drive file=disk.img,if=none,id=d0,format=raw \
  -device virtio-blk-device,drive=d0,id=blk0 \
  -msg timestamp=on -d guest_errors -trace events=events.txt -D trace.log

require_console console.log "DHCP client bound"
require_console console.log "poweroff"
finish_capture $NAME capture-uboot-arm64.sh virtio-mmio-legacy \
  "U-Boot $(pkg_version u-boot-qemu) (Debian u-boot-qemu, $UBOOT) on arm64 virt, cortex-a57"
