#!/usr/bin/env bash
# PostgreSQL stopped and started again under intake load: while it is away the server must answer
# 503 database_unavailable (never another error, never crash), reconnect by itself when it is
# back, and lose no acknowledged report. Restarts the local cluster: run it alone.
#   BIN=dir with wangge and wangge-bench (default: the release build)   DOWN=seconds away (5)
set -euo pipefail
BIN=${BIN:-${CARGO_TARGET_DIR:-$HOME/.cargo-target/wangge}/release}
PORT=${PORT:-18503}
DOWN=${DOWN:-5}
SCHEMA=${SCHEMA:-restart_test}
BASE=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
CLUSTER="$(ls /etc/postgresql) main"
DIR=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null || true; pg_ctlcluster --skip-systemctl-redirect $CLUSTER start >/dev/null 2>&1 || true' EXIT
db="$BASE?options=-c%20search_path%3D$SCHEMA"
PGOPTIONS="-c client_min_messages=warning" psql "$BASE" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA" 2>&1 | grep -v NOTICE || true

ready() {
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && return 0
    sleep 0.1
  done
  echo "server not ready" >&2
  tail -20 "$DIR/server.log" >&2
  return 1
}

"$BIN/wangge" demo --data-dir "$DIR/data" --database-url "$db" --listen "127.0.0.1:$PORT" \
  --cases 0 --admin-password 'Restart#2026x' >"$DIR/server.log" 2>&1 &
server=$!
ready
"$BIN/wangge-bench" intake --url "http://127.0.0.1:$PORT" --seconds $((DOWN + 45)) --warmup 0 \
  --concurrency 16 --acked "$DIR/acked.txt" >"$DIR/load.log" 2>&1 &
load=$!
sleep 5
before=$(wc -l <"$DIR/acked.txt")
pg_ctlcluster --skip-systemctl-redirect $CLUSTER stop -m fast
sleep "$DOWN"
during=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz" || true)
pg_ctlcluster --skip-systemctl-redirect $CLUSTER start
for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -q && break; sleep 1; done
back=$(date +%s.%N)
stopped=$(wc -l <"$DIR/acked.txt")
recovered=""
for _ in $(seq 1 300); do
  if [ "$(wc -l <"$DIR/acked.txt")" -gt "$stopped" ]; then
    recovered=$(awk -v a="$back" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    break
  fi
  sleep 0.1
done
echo "first acknowledgement ${recovered:-never (30 s)} s after PostgreSQL was back"
[ -n "$recovered" ] || { echo "the server did not recover within 30 s" >&2; exit 1; }
wait "$load"
cat "$DIR/load.log"
after=$(wc -l <"$DIR/acked.txt")
echo "acknowledged before the stop: $before, in all: $after; /readyz while stopped: $during"
kill -0 "$server" || { echo "the server died" >&2; exit 1; }
[ "$during" = 503 ] || { echo "/readyz answered $during while PostgreSQL was down" >&2; exit 1; }
kinds=$(grep -o 'failures by kind (whole run): {.*}' "$DIR/load.log" || true)
echo "$kinds" | grep -q '"503 database_unavailable"' || { echo "no 503 database_unavailable seen" >&2; exit 1; }
if echo "$kinds" | grep -o '"[^"]*":' | grep -v '"503 database_unavailable":'; then
  echo "answers other than 503 database_unavailable during the outage" >&2
  exit 1
fi
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "not ready after the restart" >&2; exit 1; }
[ "$after" -gt "$before" ] || { echo "no report acknowledged after the restart" >&2; exit 1; }
kill "$server"
wait "$server" 2>/dev/null || true
"$BIN/wangge-bench" check-acked --database-url "$db" --acked "$DIR/acked.txt"
rm -rf "$DIR"
