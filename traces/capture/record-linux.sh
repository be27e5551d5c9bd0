#!/usr/bin/env bash
# record-linux.sh VQSCOPE OUTDIR: the Linux 6.1 guest of capture-linux-pci.sh (q35, modern
# virtio-pci net, blk, rng, console), with a second disk (two devices QEMU names virtio-blk:
# the recorder and analyze must tell them apart; Linux reads its partition table) and the first
# disk's serial (a GET_ID request: kernel argument vqscope.serial), and a NIC offering
# VIRTIO_NET_F_MTU (host_mtu=1400) pinged with one packet of exactly that size (vqscope.mtu), and
# a virtio keyboard (Linux's virtio_input selects and reads its configuration), run twice
# under TCG, one guest at a time: once plainly and
# once under `vqscope record -o OUTDIR/run`, both with QEMU's filter-dump on the netdev
# (OUTDIR/plain.pcap, OUTDIR/netdev.pcap). Writes OUTDIR/timing.json with each run's wall
# time and the guest's own uptime at power-off, for the recorder's overhead.
# check_record.py then holds the recording to the trace and to filter-dump.
# PACKED=1: every virtio device with packed=on (packed virtqueues, §2.8) instead of split ones.
# RECORD_OPTIONS: more options for `vqscope record` (e.g. "--pause-after 300").
# MEMORY: the guest's RAM (default 256M); 3G puts 1 GiB of it above 4 GiB (q35 keeps 2 GiB below).
VQSCOPE=$(realpath "${1:?usage: record-linux.sh VQSCOPE OUTDIR}")
OUTDIR=${2:?usage: record-linux.sh VQSCOPE OUTDIR}
source "$(dirname "$0")/common.sh"
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
bash "$CAPTURE_DIR/build-initramfs.sh" "$WORK"

RING=${PACKED:+,packed=on}
guest() {  # guest PCAP: sets ARGS to the QEMU command line, filter-dump writing PCAP
  ARGS=(qemu-system-x86_64 -M q35 -accel tcg -m "${MEMORY:-256M}" -smp 1 -nodefaults -display none -no-reboot
    -kernel vmlinuz -initrd initramfs.cpio.gz -append "console=ttyS0 panic=-1 quiet vqscope.serial vqscope.mtu"
    -serial file:console.log -netdev user,id=n0,restrict=on
    -device virtio-net-pci,netdev=n0,id=net0,mac=52:54:00:12:34:56,host_mtu=1400,disable-legacy=on,disable-modern=off$RING
    -object "filter-dump,id=fd0,netdev=n0,file=$1"
    -drive file=disk.img,if=none,id=d0,format=raw
    -device virtio-blk-pci,drive=d0,id=blk0,serial=vqscope-disk0,disable-legacy=on,disable-modern=off$RING
    -drive file=disk1.img,if=none,id=d1,format=raw
    -device virtio-blk-pci,drive=d1,disable-legacy=on,disable-modern=off$RING
    -object rng-random,id=rng0,filename=/dev/urandom
    -device virtio-rng-pci,rng=rng0,id=rng,disable-legacy=on,disable-modern=off$RING
    -device virtio-serial-pci,id=ser0,disable-legacy=on,disable-modern=off$RING
    -chardev file,id=c0,path=hvc0.out -device virtconsole,chardev=c0,id=vcon0
    -device virtio-keyboard-pci,id=kbd0,disable-legacy=on,disable-modern=off$RING)
}
run() {  # run NAME PREFIX...: one guest, its wall time and the guest's uptime at power-off
  local name=$1; shift
  guest "$OUTDIR/$name.pcap"
  truncate -s 8M disk.img
  truncate -s 1M disk1.img
  rm -f console.log hvc0.out
  local start end
  start=$(date +%s.%N)
  timeout 240 "$@" "${ARGS[@]}" </dev/null >&2
  end=$(date +%s.%N)
  require_console console.log "traffic done"
  local uptime
  uptime=$(grep -o '^\[ *[0-9.]*\]' console.log | tail -1 | tr -d '[] ')
  echo "\"$name\": {\"wallSeconds\": $(python3 -c "print(round($end - $start, 2))"), \"guestUptimeSeconds\": $uptime}"
}
{
  echo "{"
  run plain
  echo ","
  # shellcheck disable=SC2086  # RECORD_OPTIONS is split into words on purpose
  run netdev "$VQSCOPE" record -o "$OUTDIR/run" ${RECORD_OPTIONS:-} --
  echo "}"
} > "$OUTDIR/timing.json"
cat "$OUTDIR/timing.json"
