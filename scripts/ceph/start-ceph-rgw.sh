#!/bin/bash
# Start a throwaway single-node Ceph (Pacific 16.2.x, Debian bookworm packages)
# cluster for tests: 1 mon, 1 OSD (memstore by default), radosgw (beast) on
# 127.0.0.1, plus one S3 user. Everything lives under $CEPH_BASE. Used by cli/dev/radosgw.ts
# (for test/helpers/ceph.ts and `strata cluster dev`), which picks the ports and the base
# directory per run.
#
# Needs (as root): apt-get install --no-install-recommends ceph-mon ceph-osd radosgw ceph-common
#   (+ ceph-mgr if WITH_MGR=1)
#
# Env knobs:
#   CEPH_BASE     (required) a directory of this cluster's own; wiped on start
#   RGW_PORT      (default 7480)
#   MON_PORT      (default 6789; msgr v1 only, v2 disabled)
#   OSD_STORE     memstore (default) | bluestore (file-backed, no block device)
#   WITH_MGR      0 (default) | 1
#   S3_ACCESS_KEY / S3_SECRET_KEY  (default test / testsecret)
#   WATCH_PID     if set: a watchdog stops the cluster once this process is gone, so a
#                 killed test run leaves no daemons behind
set -euo pipefail

BASE=${CEPH_BASE:?set CEPH_BASE to a directory for this cluster}
case "$BASE" in /|/tmp|/tmp/|"$HOME"|"$HOME"/) echo "refusing CEPH_BASE=$BASE" >&2; exit 2;; esac
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RGW_PORT=${RGW_PORT:-7480}
MON_PORT=${MON_PORT:-6789}
OSD_STORE=${OSD_STORE:-memstore}
WITH_MGR=${WITH_MGR:-0}
S3_ACCESS_KEY=${S3_ACCESS_KEY:-test}
S3_SECRET_KEY=${S3_SECRET_KEY:-testsecret}

t0=$(date +%s.%N)
on_err() {
  echo "start-ceph-rgw.sh: FAILED at line $1 (exit $2); log tails:" >&2
  for f in "$BASE"/log/*.log; do echo "--- $f" >&2; tail -15 "$f" >&2; done
}
trap 'on_err $LINENO $?' ERR
ts() { awk -v a="$t0" -v b="$(date +%s.%N)" -v m="$*" 'BEGIN{printf "[%6.2fs] %s\n", b-a, m}'; }

# refuse to clobber a running cluster from this base dir
if compgen -G "$BASE/run/*.pid" >/dev/null; then
  for p in "$BASE"/run/*.pid; do
    if kill -0 "$(cat "$p")" 2>/dev/null; then
      echo "cluster in $BASE still running (pid file $p); run stop-ceph-rgw.sh first" >&2; exit 1
    fi
  done
fi
rm -rf "$BASE"
mkdir -p "$BASE"/{run,log,mon.a,osd.0,mgr.x,rgw}

if [ -n "${WATCH_PID:-}" ]; then
  # Detached, with no inherited stdio, so it neither dies with nor blocks its caller.
  CEPH_BASE="$BASE" WATCH_PID="$WATCH_PID" setsid bash -c '
    while kill -0 "$WATCH_PID" 2>/dev/null; do sleep 1; done
    "$0" >/dev/null 2>&1' "$HERE/stop-ceph-rgw.sh" </dev/null >/dev/null 2>&1 &
  echo $! > "$BASE/run/watchdog"
fi

FSID=$(cat /proc/sys/kernel/random/uuid)
CONF=$BASE/ceph.conf
cat > "$CONF" <<EOF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
run dir = $BASE/run
pid file = $BASE/run/\$name.pid
admin socket = $BASE/run/\$name.asok
log file = $BASE/log/\$name.log
mon cluster log file = $BASE/log/cluster.log
keyring = $BASE/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
mon max pg per osd = 1000
# speed: mon proposes map changes after 1s by default; each rgw pool create costs ~2 rounds
paxos propose interval = 0.05
paxos min wait = 0.01
mon warn on insecure global id reclaim allowed = false
# room for S3 keys up to 1024 bytes plus rgw's bucket-marker prefix (the 460 limit is for ext4 filestore)
osd max object name len = 2048
osd max object namespace len = 64

[mon]
mon data = $BASE/mon.\$id

[mgr]
mgr data = $BASE/mgr.\$id
mgr initial modules =

[osd]
osd data = $BASE/osd.\$id
osd objectstore = $OSD_STORE
memstore device bytes = 2147483648
bluestore block path = $BASE/osd.\$id/block.file
bluestore block create = true
bluestore block size = 4294967296
bluestore fsck on mount = false
osd memory target = 536870912
bluestore cache autotune = false
bluestore cache size = 67108864
osd op num shards = 1
osd op num threads per shard = 2
# With auth=none the OSD can send its start-up crush commands before it has the
# monmap -> mon rejects them ("wrong fsid"), ceph-osd exits 250 (~1 in 20 starts).
# So skip those start-up commands and place the OSD in CRUSH from this script.
osd crush update on start = false
osd class update on start = false

[client.rgw.x]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw data = $BASE/rgw
rgw thread pool size = 32
rgw dns name = localhost
log file = $BASE/log/rgw.log
EOF

# an (unused with auth=none) mon keyring: mkfs still wants one
ceph-authtool --create-keyring "$BASE/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null

ts "mon mkfs"
monmaptool --create --fsid "$FSID" --addv a "[v1:127.0.0.1:$MON_PORT]" "$BASE/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$BASE/monmap" --keyring "$BASE/keyring"
ceph-mon -c "$CONF" -i a
C="ceph -c $CONF --connect-timeout 10"
$C mon stat >/dev/null
ts "mon up"

if [ "$WITH_MGR" = 1 ]; then
  ceph-mgr -c "$CONF" -i x
  ts "mgr started"
fi

OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$($C osd new "$OSD_UUID")
$C osd crush add "osd.$OSD_ID" 1.0 root=default >/dev/null 2>&1
ceph-osd -c "$CONF" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >"$BASE/log/osd-mkfs.log" 2>&1
# retry guard: if ceph-osd still fails in init, try again (a couple of times)
for try in 1 2 3; do
  ceph-osd -c "$CONF" -i "$OSD_ID" 2>>"$BASE/log/osd-start.err" && break
  echo "ceph-osd start attempt $try failed, retrying" >&2; sleep 0.5
done
for i in $(seq 1 300); do
  up=$($C osd stat -f json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["num_up_osds"])' || echo 0)
  [ "$up" = 1 ] && break
  sleep 0.2
done
[ "$up" = 1 ] || { echo "OSD did not come up" >&2; exit 1; }
ts "osd.$OSD_ID up ($OSD_STORE)"

radosgw -c "$CONF" -n client.rgw.x
for i in $(seq 1 300); do
  curl -fsS -o /dev/null "http://127.0.0.1:$RGW_PORT/" 2>/dev/null && break
  sleep 0.2
done
curl -fsS -o /dev/null "http://127.0.0.1:$RGW_PORT/" || { echo "radosgw did not answer on :$RGW_PORT" >&2; tail -30 "$BASE/log/rgw.log" >&2; exit 1; }
ts "radosgw answering on 127.0.0.1:$RGW_PORT"

radosgw-admin -c "$CONF" user create --uid=test --display-name="CI test" \
  --access-key="$S3_ACCESS_KEY" --secret-key="$S3_SECRET_KEY" >"$BASE/log/user-create.json"
ts "S3 user created (access=$S3_ACCESS_KEY)"
echo "CEPH_CONF=$CONF  S3 endpoint http://127.0.0.1:$RGW_PORT"
