# Shared by the benchmark scripts (sourced, not run): GNU time, and one timed run.
# Needs $out (the results directory) set by the caller.

# ensure_gnu_time NAME: installs Debian's `time` package when /usr/bin/time is missing.
ensure_gnu_time() {
    [ -x /usr/bin/time ] && return 0
    echo "$1: installing GNU time (Debian package 'time')" >&2
    if [ "$(id -u)" -eq 0 ]; then
        apt-get install -y -qq time >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
    else
        sudo apt-get install -y -qq time >/dev/null
    fi
}

# time_once LOG CMD...: runs CMD once and appends "wall_nanoseconds peak_rss_kib exit_code" to
# LOG. Peak RSS comes from GNU time's %M; wall time from a nanosecond clock around the same
# call (time's %e only has 10 ms resolution).
time_once() {
    local log=$1; shift
    local t0 t1 rc
    t0=$(date +%s%N)
    set +e
    /usr/bin/time -f '%M' -o "$out/.time" "$@"
    rc=$?
    set -e
    t1=$(date +%s%N)
    # GNU time prints "Command exited with non-zero status N" before the format line.
    echo "$(( t1 - t0 )) $(tail -n 1 "$out/.time") $rc" >>"$log"
}
