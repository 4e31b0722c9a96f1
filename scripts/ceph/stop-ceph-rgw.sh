#!/bin/bash
# Stop the daemons started by start-ceph-rgw.sh (by PID file, TERM then KILL), then wipe
# CEPH_BASE unless WIPE=0. Also ends the watchdog, unless the watchdog is what called us.
BASE=${CEPH_BASE:?set CEPH_BASE to the cluster directory}
case "$BASE" in /|/tmp|/tmp/|"$HOME"|"$HOME"/) echo "refusing CEPH_BASE=$BASE" >&2; exit 2;; esac
if [ -f "$BASE/run/watchdog" ]; then
  w=$(cat "$BASE/run/watchdog")
  [ "$w" != "$PPID" ] && kill -TERM "$w" 2>/dev/null
fi
pids=()
for f in "$BASE"/run/*.pid; do
  [ -e "$f" ] || continue
  p=$(cat "$f")
  if kill -0 "$p" 2>/dev/null; then kill -TERM "$p"; pids+=("$p"); fi
done
for i in $(seq 1 50); do
  alive=0
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ $alive = 0 ] && break
  sleep 0.2
done
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && kill -KILL "$p"; done
[ "${WIPE:-1}" = 1 ] && rm -rf "$BASE"
echo "stopped: ${pids[*]:-none}"
