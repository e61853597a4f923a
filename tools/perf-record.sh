#!/bin/bash
# tools/perf-record.sh [SECONDS] - record every spliced USDT probe with perf for SECONDS
# (default 10) system-wide, then print the events with `perf script`.
#
#   SPLICED=/usr/sbin/spliced tools/perf-record.sh 30
#
# Environment: SPLICED (binary, default ./spliced), PERF_DATA (output, default
# ./perf.spliced.data), KEEP_PROBES=1 (leave the sdt_spliced:* events defined).
# Needs root (or perf_event_paranoid/CAP_PERFMON and tracefs access).
#
# The recipe, step by step (linux-perf 6.1 on Debian 12):
#   perf buildid-cache --add ./spliced       # copy the binary's SDT notes into ~/.debug
#   perf list sdt                            # lists sdt_spliced:conn_open ... [SDT event]
#   perf probe -x ./spliced 'sdt_spliced:*'  # turn them into uprobe events (see 3.)
#   perf record -e 'sdt_spliced:*' -a -- sleep 10
#   perf script                              # one line per event
#   perf probe -d 'sdt_spliced:*'            # remove the uprobe events
#
# perf numbers the probe arguments from arg1 (bpftrace from arg0: perf's arg1 is
# bpftrace's arg0, the connection id).  Strings show as addresses: perf fetches SDT
# arguments as integers; use tools/trace (bpftrace) to see methods, targets and names.
# perf also drops an argument the compiler made a constant, so a line may lack an argN.
set -euo pipefail

secs=${1:-10}
bin=${SPLICED:-./spliced}
data=${PERF_DATA:-./perf.spliced.data}

[ -f "$bin" ] || { echo "perf-record.sh: $bin: no such file (set SPLICED=)" >&2; exit 1; }
bin=$(realpath -- "$bin")
if ! readelf -n "$bin" 2>/dev/null | grep -q 'Provider: spliced'; then
	echo "perf-record.sh: $bin has no USDT probes of provider spliced" >&2
	exit 1
fi

# 1. Register the binary (build-id) and its SDT notes in perf's cache.
perf buildid-cache --add "$bin"
# 2. Show what perf now knows about (sdt_spliced:NAME [SDT event]).
perf list sdt 2>/dev/null | grep sdt_spliced || true
# 3. Define the uprobe events, one name at a time (an old definition goes first).
#    perf 6.1 cannot define an SDT event the compiler placed at two or more sites (in
#    this build: splice): `perf probe -x BIN 'sdt_spliced:*'` stops there with "Failed to
#    write event: File exists" and leaves the later names undefined, and -f does not help.
#    So each name is added alone; one that fails is reported and the rest still work.
cleanup() {
	[ "${KEEP_PROBES:-0}" = 1 ] || perf probe -q -d 'sdt_spliced:*' 2>/dev/null || true
}
perf probe -q -d 'sdt_spliced:*' 2>/dev/null || true
trap cleanup EXIT
events=()
for name in $(readelf -n "$bin" | awk '/Provider: spliced/ { p = 1; next } p && /Name:/ { print $2; p = 0 }' | sort -u); do
	if perf probe -q -x "$bin" -a "sdt_spliced:$name" 2>/dev/null; then
		events+=(-e "sdt_spliced:$name")
	else
		echo "perf-record.sh: perf could not define sdt_spliced:$name" \
		     "(several probe sites?); not recorded (tools/trace sees it)" >&2
		perf probe -q -d "sdt_spliced:$name" 2>/dev/null || true
	fi
done
[ ${#events[@]} -gt 0 ] || { echo "perf-record.sh: no event could be defined" >&2; exit 1; }
perf probe -l 'sdt_spliced:*'
# 4. Record every spliced process system-wide for $secs seconds.
perf record -o "$data" "${events[@]}" -a -- sleep "$secs"
# 5. Print the events: comm pid [cpu] time: sdt_spliced:NAME: (addr) arg1=... arg2=...
perf script -i "$data"
