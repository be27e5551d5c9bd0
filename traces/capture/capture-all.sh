#!/usr/bin/env bash
# Re-create every real trace in traces/real/ (or $VQSCOPE_CAPTURE_OUT), one QEMU guest at a time.
set -euo pipefail
cd "$(dirname "$0")"
bash ./install-deps.sh
for s in capture-linux-pci.sh "capture-linux-mmio.sh modern" "capture-linux-mmio.sh legacy" \
         capture-seabios-blk.sh capture-ipxe-pci.sh capture-uboot-arm64.sh; do
  echo "=== $s"
  start=$(date +%s)
  bash ./$s
  echo "=== $s took $(( $(date +%s) - start ))s"
done
ls -l "${VQSCOPE_CAPTURE_OUT:-../real}"
