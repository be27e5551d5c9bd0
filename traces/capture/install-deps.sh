#!/usr/bin/env bash
# Idempotently install Debian 12 packages: the ones named as arguments, or by default
# everything needed to capture the real traces. Only missing packages are installed;
# `apt-get update` runs once, only if needed.
set -euo pipefail

PKGS=(
  qemu-system-x86 qemu-system-arm qemu-utils
  linux-image-amd64 busybox-static
  u-boot-qemu seabios ipxe-qemu
  cpio xz-utils zstd gzip kmod python3
  libpcap-dev tcpdump time
)
if [ $# -gt 0 ]; then PKGS=("$@"); fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg -s "$p" >/dev/null 2>&1 || \
     ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
