# Shared helpers for the capture-*.sh scripts (sourced, not executed).
# Each capture script: installs deps, works in a temp dir, runs QEMU once under
# `timeout`, writes traces/real/NAME.log.xz and traces/real/NAME.expected.json.
set -euo pipefail

CAPTURE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$CAPTURE_DIR/../.." && pwd)
# VQSCOPE_CAPTURE_OUT redirects the traces (the test script re-captures into a scratch directory).
REAL_DIR=${VQSCOPE_CAPTURE_OUT:-$REPO_ROOT/traces/real}
mkdir -p "$REAL_DIR"

bash "$CAPTURE_DIR/install-deps.sh"

WORK=$(mktemp -d /tmp/vqscope-capture.XXXXXX)
if [ -z "${KEEP_WORK:-}" ]; then trap 'rm -rf "$WORK"' EXIT; else echo "work dir kept: $WORK"; fi
cd "$WORK"

# Trace event patterns (checked against /usr/share/qemu/trace-events-all).
cat > events.txt <<'EV'
virtio_*
virtqueue_*
pci_cfg_write
EV

qemu_version() { # prints e.g. 7.2.22
  "$1" --version | sed -n 's/^QEMU emulator version \([0-9.]*\).*/\1/p'
}
pkg_version() { dpkg-query -W -f='${Version}' "$1"; }

# run_qemu TIMEOUT_SECONDS qemu-binary args...
# Runs QEMU under timeout; records the command line (QEMU_CMDLINE), wall time
# (QEMU_SECONDS) and exit status (QEMU_RC). A timeout (124) is not fatal here.
run_qemu() {
  local t=$1; shift
  local a
  QEMU_CMDLINE=""
  for a in "$@"; do
    case "$a" in
      *[[:space:]]*) QEMU_CMDLINE+="${QEMU_CMDLINE:+ }\"$a\"" ;;
      *) QEMU_CMDLINE+="${QEMU_CMDLINE:+ }$a" ;;
    esac
  done
  printf '%s\n' "$QEMU_CMDLINE" > cmdline.txt
  echo "+ timeout $t $QEMU_CMDLINE"
  local start end
  start=$(date +%s.%N)
  set +e
  if [ -n "${QEMU_DRIVER:-}" ]; then
    # e.g. a console driver that types commands at a firmware prompt
    $QEMU_DRIVER -- timeout "$t" "$@" 2>qemu-stderr.txt
  else
    timeout "$t" "$@" </dev/null 2>qemu-stderr.txt
  fi
  QEMU_RC=$?
  set -e
  end=$(date +%s.%N)
  QEMU_SECONDS=$(python3 -c "print(round($end - $start, 1))")
  if [ -s qemu-stderr.txt ]; then echo "qemu stderr:"; sed 's/^/  /' qemu-stderr.txt; fi
  local traced=""
  if [ -f trace.log ]; then traced="; trace.log $(stat -c %s trace.log) bytes, $(wc -l < trace.log) lines"; fi
  echo "qemu exit status $QEMU_RC after ${QEMU_SECONDS}s$traced"
}

# Warning- and error-level findings vqscope must report on this guest, as RULE=COUNT
# words; each is a real deviation of the guest's driver explained in traces/README.md.
EXPECTED_FINDINGS=${EXPECTED_FINDINGS:-}

# finish_capture NAME SCRIPT TRANSPORT GUEST [TIMESTAMPS=true]
# Compresses trace.log to traces/real/NAME.log.xz and writes NAME.expected.json.
finish_capture() {
  local name=$1 script=$2 transport=$3 guest=$4 timestamps=${5:-true}
  local finding findings=()
  for finding in $EXPECTED_FINDINGS; do findings+=(--finding "$finding"); done
  xz -9 -T1 -c trace.log > "$REAL_DIR/$name.log.xz"
  python3 "$CAPTURE_DIR/make_expected.py" \
    --trace "$REAL_DIR/$name.log.xz" --capture-script "traces/capture/$script" \
    --qemu-version "$QEMU_VERSION" --guest "$guest" --command-line "$QEMU_CMDLINE" \
    --transport "$transport" --timestamps "$timestamps" \
    --capture-seconds "$QEMU_SECONDS" --qemu-exit-status "$QEMU_RC" "${findings[@]}" \
    > "$REAL_DIR/$name.expected.json"
  echo "wrote $REAL_DIR/$name.log.xz ($(stat -c %s "$REAL_DIR/$name.log.xz") bytes) and $name.expected.json"
}

# require_console FILE TEXT: fail unless the guest printed TEXT.
require_console() {
  if ! grep -q "$2" "$1"; then
    echo "ERROR: '$2' not found in $1; guest output follows" >&2
    cat "$1" >&2 || true
    exit 1
  fi
}
