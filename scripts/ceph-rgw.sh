#!/usr/bin/env bash
# Single-node Ceph RGW (memstore) for tests and benchmarks.
#   scripts/ceph-rgw.sh start [DIR] [PORT]   install if missing, start, print endpoint and keys as KEY=VALUE lines
#   scripts/ceph-rgw.sh stop  [DIR]          stop the daemons by pid file and wait for them to exit
#   scripts/ceph-rgw.sh status [DIR]
#   scripts/ceph-rgw.sh bounce DIR [SECONDS]  kill radosgw, keep it down SECONDS (10), restart it; data stays
# DIR defaults to $RGW_DIR or /tmp/ceph-rgw-$USER; PORT to $RGW_PORT or a free port.
set -euo pipefail

cmd=${1:-status}
dir=${2:-${RGW_DIR:-/tmp/ceph-rgw-${USER:-root}}}
port=${3:-${RGW_PORT:-}}
access_key=${RGW_ACCESS_KEY:-rgwtestaccess}
secret_key=${RGW_SECRET_KEY:-rgwtestsecret0123456789}
mem_bytes=${RGW_MEMSTORE_BYTES:-6442450944}

log() { echo "ceph-rgw: $*" >&2; }
die() { log "$*"; exit 1; }

install_packages() {
  if command -v radosgw >/dev/null && command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null \
     && command -v radosgw-admin >/dev/null && command -v monmaptool >/dev/null; then
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    die "Ceph packages are missing and we are not root. Install them: apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common uuid-runtime"
  fi
  log "installing Ceph packages (ceph-mon ceph-osd radosgw ceph-common uuid-runtime)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends ceph-mon ceph-osd radosgw ceph-common uuid-runtime >/dev/null \
    || die "apt-get install of the Ceph packages failed"
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_exit() {
  local pidfile=$1 pid i
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  sleep 0.2
  rm -f "$pidfile"
}

stop() {
  local p
  for p in rgw osd mon; do
    if [ -f "$dir/run/$p.pid" ]; then kill "$(cat "$dir/run/$p.pid")" 2>/dev/null || true; fi
  done
  for p in rgw osd mon; do wait_exit "$dir/run/$p.pid"; done
}

status() {
  local ok=0 p
  for p in mon osd rgw; do
    if pid_alive "$dir/run/$p.pid"; then echo "$p running (pid $(cat "$dir/run/$p.pid"))"; else echo "$p stopped"; ok=1; fi
  done
  [ -f "$dir/endpoint" ] && echo "endpoint $(cat "$dir/endpoint")"
  return $ok
}

start() {
  install_packages
  if pid_alive "$dir/run/rgw.pid"; then
    log "already running in $dir"
    print_env
    return 0
  fi
  stop
  rm -rf "$dir"
  mkdir -p "$dir"/{run,log,mon,osd}
  [ -n "$port" ] || port=$(free_port)
  local monport fsid osd_uuid
  monport=$(free_port)
  fsid=$(uuidgen)
  # The OSD's own id, fixed before the first attempt: a boot that failed half-way may already have
  # registered it with the monitor, and a retry with a new id is then refused as 'wrong fsid'.
  osd_uuid=$(uuidgen)
  cat > "$dir/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$monport
mon initial members = a
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon allow pool delete = true
osd objectstore = memstore
memstore device bytes = $mem_bytes
osd max object name len = 2048
osd max object namespace len = 256
osd crush chooseleaf type = 0
# The OSD places itself in the CRUSH map below, before it starts. Left to do it at boot, it may send
# that command before it has the monitor's map, with a zero fsid, and the monitor refuses it
# ('wrong fsid'): the OSD then exits, more often the busier the machine.
osd crush update on start = false
osd class update on start = false
run dir = $dir/run
pid file = $dir/run/\$type.pid
log file = $dir/log/\$name.log
admin socket = $dir/run/\$name.asok
keyring = $dir/keyring
mon data = $dir/mon/\$id
osd data = $dir/osd/\$id
mon warn on pool no redundancy = false
[mon.a]
mon addr = v1:127.0.0.1:$monport
[client.rgw.a]
# tcp_nodelay: without it, an answer written as headers then body waits for the client's
# delayed ACK (40 ms on Linux) before its body leaves: every small GET and error answer took
# 45 ms on loopback. Production front ends answer without that stall.
rgw frontends = beast endpoint=127.0.0.1:$port tcp_nodelay=1
rgw data = $dir/rgw
rgw gc obj min wait = 10
rgw gc processor period = 10
rgw thread pool size = 256
# SSE-C over the local plain-HTTP endpoint (Scaleway and production RGW take it over TLS only).
rgw crypt require ssl = false
CONF
  local conf=(-c "$dir/ceph.conf")
  monmaptool --create --addv a "[v1:127.0.0.1:$monport]" --fsid "$fsid" "$dir/monmap" >/dev/null
  ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-mon "${conf[@]}" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring" >/dev/null 2>&1 \
    || die "ceph-mon --mkfs failed (see $dir/log)"
  mv "$dir/run/mon.pid" "$dir/run/mon.pid.mkfs" 2>/dev/null || true
  ceph-mon "${conf[@]}" -i a --pid-file "$dir/run/mon.pid" || die "ceph-mon failed to start (see $dir/log/mon.a.log)"
  # The monitor may refuse commands for a moment after it starts (EPERM while it forms its quorum).
  local tries=0
  until ceph "${conf[@]}" --connect-timeout 20 osd create "$osd_uuid" 0 >/dev/null 2>&1; do
    tries=$((tries + 1))
    [ $tries -lt 15 ] || die "ceph osd create failed: monitor not reachable (see $dir/log/mon.a.log)"
    sleep 1
  done
  ceph "${conf[@]}" --connect-timeout 20 osd crush add osd.0 1.0 root=default >/dev/null 2>&1 \
    || die "ceph osd crush add failed (see $dir/log/mon.a.log)"
  mkdir -p "$dir/osd/0"
  local i ok=0
  for i in 1 2 3 4 5 6 7 8; do
    if [ -f "$dir/run/osd.pid" ]; then kill -9 "$(cat "$dir/run/osd.pid")" 2>/dev/null || true; wait_exit "$dir/run/osd.pid"; fi
    rm -rf "$dir/osd/0"; mkdir -p "$dir/osd/0"
    if ceph-osd "${conf[@]}" -i 0 --mkfs --osd-uuid "$osd_uuid" >/dev/null 2>&1 && ceph-osd "${conf[@]}" -i 0 --pid-file "$dir/run/osd.pid" 2>/dev/null; then
      ok=1; break
    fi
    log "osd start attempt $i failed, retrying"
    sleep "$i"
  done
  if [ $ok != 1 ]; then
    grep -E ' -1 |ERROR|error' "$dir/log/osd.0.log" 2>/dev/null | tail -n 8 | sed 's/^/ceph-rgw: osd.0.log: /' >&2 || true
    die "ceph-osd failed to start (see $dir/log/osd.0.log)"
  fi
  radosgw "${conf[@]}" -n client.rgw.a --pid-file "$dir/run/rgw.pid" || die "radosgw failed to start (see $dir/log)"
  for i in $(seq 1 300); do
    if curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" 2>/dev/null | grep -q 200; then ok=2; break; fi
    sleep 0.2
  done
  [ $ok = 2 ] || die "radosgw did not answer on 127.0.0.1:$port within 60 s (see $dir/log/client.rgw.a.log)"
  radosgw-admin "${conf[@]}" user create --uid test --display-name test \
    --access-key "$access_key" --secret-key "$secret_key" >/dev/null 2>&1 \
    || die "radosgw-admin user create failed"
  # Answer as region fr-par, like Scaleway, so CreateBucket from an fr-par client works.
  if radosgw-admin "${conf[@]}" zonegroup get --rgw-zonegroup=default > "$dir/zonegroup.json" 2>/dev/null; then
    sed -i 's/"api_name": "[^"]*"/"api_name": "fr-par"/' "$dir/zonegroup.json"
    radosgw-admin "${conf[@]}" zonegroup set --infile "$dir/zonegroup.json" >/dev/null 2>&1 || true
    # Scaleway's other storage classes, so that objects written with them keep their class.
    for cls in ONEZONE_IA GLACIER; do
      pool="default.rgw.$(echo "$cls" | tr 'A-Z' 'a-z').data"
      radosgw-admin "${conf[@]}" zonegroup placement add --rgw-zonegroup default --placement-id default-placement --storage-class "$cls" >/dev/null 2>&1 || true
      radosgw-admin "${conf[@]}" zone placement add --rgw-zone default --placement-id default-placement --storage-class "$cls" --data-pool "$pool" >/dev/null 2>&1 || true
    done
    radosgw-admin "${conf[@]}" period update --commit >/dev/null 2>&1 || true
    kill "$(cat "$dir/run/rgw.pid")"; wait_exit "$dir/run/rgw.pid"
    radosgw "${conf[@]}" -n client.rgw.a --pid-file "$dir/run/rgw.pid" || die "radosgw failed to restart"
    ok=0
    for i in $(seq 1 300); do
      if curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" 2>/dev/null | grep -q 200; then ok=2; break; fi
      sleep 0.2
    done
    [ $ok = 2 ] || die "radosgw did not answer after restart"
  fi
  echo "http://127.0.0.1:$port" > "$dir/endpoint"
  print_env
}

# An outage of the S3 front end alone: radosgw is killed (no goodbye to its clients), stays down
# SECONDS, and comes back on the same port; the monitor, the OSD and the data stay up.
bounce() {
  local seconds=${1:-10} port i
  [ -f "$dir/endpoint" ] || die "no node in $dir"
  port=$(sed 's/.*://' "$dir/endpoint")
  if [ -f "$dir/run/rgw.pid" ]; then kill -9 "$(cat "$dir/run/rgw.pid")" 2>/dev/null || true; fi
  wait_exit "$dir/run/rgw.pid"
  log "radosgw down for $seconds s"
  sleep "$seconds"
  radosgw -c "$dir/ceph.conf" -n client.rgw.a --pid-file "$dir/run/rgw.pid" || die "radosgw failed to restart"
  for i in $(seq 1 300); do
    if curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" 2>/dev/null | grep -q 200; then log "radosgw back"; return 0; fi
    sleep 0.2
  done
  die "radosgw did not answer after the bounce"
}

print_env() {
  echo "RGW_ENDPOINT=$(cat "$dir/endpoint")"
  echo "RGW_ACCESS_KEY=$access_key"
  echo "RGW_SECRET_KEY=$secret_key"
  echo "RGW_DIR=$dir"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  bounce) bounce "${3:-10}" ;;
  *) die "usage: $0 start|stop|status [DIR] [PORT] | bounce DIR [SECONDS]" ;;
esac
