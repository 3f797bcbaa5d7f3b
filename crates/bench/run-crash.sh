#!/usr/bin/env bash
# Crash test: intake load on a server that is killed with SIGKILL at random moments and started
# again, KILLS times; then every report the server acknowledged must be stored (exactly once:
# client ids are unique), the audit chain must be whole and the dashboards' aggregates must
# equal a full recount (`wangge check`).
#   BIN=dir with wangge and wangge-bench (default: the release build)
#   KILLS=20  DATABASE_URL=postgres://…?options=-c%20search_path%3D<schema> (default: SQLite)
set -euo pipefail
BIN=${BIN:-${CARGO_TARGET_DIR:-$HOME/.cargo-target/wangge}/release}
KILLS=${KILLS:-20}
PORT=${PORT:-18500}
DIR=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null || true' EXIT
args=(--data-dir "$DIR/data" --listen "127.0.0.1:$PORT")
db="sqlite://$DIR/data/wangge.db"
if [ -n "${DATABASE_URL:-}" ]; then
  args+=(--database-url "$DATABASE_URL")
  db=$DATABASE_URL
fi

ready() {
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && return 0
    sleep 0.1
  done
  echo "server not ready; log:" >&2
  tail -20 "$DIR/server.log" >&2
  return 1
}

"$BIN/wangge" demo "${args[@]}" --cases 0 --admin-password 'Crash#2026x' >>"$DIR/server.log" 2>&1 &
server=$!
ready
"$BIN/wangge-bench" intake --url "http://127.0.0.1:$PORT" --seconds 100000 --warmup 0 \
  --concurrency 16 --acked "$DIR/acked.txt" >"$DIR/load.log" 2>&1 &
load=$!
for k in $(seq 1 "$KILLS"); do
  sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", 0.5 + rand() * 2.5 }')"
  kill -9 "$server"
  wait "$server" 2>/dev/null || true
  echo "kill $k: $(wc -l <"$DIR/acked.txt" 2>/dev/null || echo 0) acknowledged so far"
  "$BIN/wangge" serve "${args[@]}" >>"$DIR/server.log" 2>&1 &
  server=$!
  ready
done
sleep 2
kill "$load"
wait "$load" 2>/dev/null || true
kill "$server"
wait "$server" 2>/dev/null || true
"$BIN/wangge-bench" check-acked --database-url "$db" --acked "$DIR/acked.txt"
"$BIN/wangge" check --data-dir "$DIR/data" ${DATABASE_URL:+--database-url "$DATABASE_URL"}
rm -rf "$DIR"
