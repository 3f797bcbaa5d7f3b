#!/usr/bin/env bash
# B1 on SQLite: a fresh demo server, then one intake run, with what the server spent on it.
#   BIN=dir with wangge and wangge-bench (default: the release build)
#   CONC=32 clients (the cap on requests in flight with RATE), RATE=2000 for an open loop,
#   SECS=10 measured seconds, RAW=1 to measure the disk's durable single commits first.
# Needs the sqlite3 command-line tool (Debian: sqlite3) to count the cases created.
# Prints the driver's summary, then the server's bytes written and write calls per case (from
# /proc/PID/io), its CPU per case (from /proc/PID/stat), its peak RSS, and the case writer's cost:
# a least-squares fit of each group's write time to its size (F ms per group + c ms per case,
# from the writer's debug log), the figure that sets the p99 (BENCHMARKS.md, B1).
set -euo pipefail
BIN=${BIN:-${CARGO_TARGET_DIR:-$HOME/.cargo-target/wangge}/release}
PORT=${PORT:-18400}
DIR=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null || true; rm -rf "$DIR"' EXIT
WANGGE_LOG=info,sqlx=warn,wangge_store::case_writer=debug \
  "$BIN/wangge" demo --data-dir "$DIR/data" --listen "127.0.0.1:$PORT" --cases 0 >"$DIR/server.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
  sleep 0.2
done
if [ -n "${RAW:-}" ]; then
  "$BIN/wangge-bench" raw-commits --target "$DIR" --seconds 5 | tail -1
fi
io() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$server/io"; }
cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }
w0=$(io write_bytes); s0=$(io syscw); c0=$(cpu)
rate=()
if [ -n "${RATE:-}" ]; then rate=(--rate "$RATE"); fi
"$BIN/wangge-bench" intake --url "http://127.0.0.1:$PORT" --seconds "${SECS:-10}" \
  --concurrency "${CONC:-32}" "${rate[@]}" 2>&1 | grep -v '^first failures' || true
w1=$(io write_bytes); s1=$(io syscw); c1=$(cpu)
n=$(sqlite3 "$DIR/data/wangge.db" "SELECT COUNT(*) FROM cases WHERE channel = 'hotline'")
ticks=$(getconf CLK_TCK)
awk -v n="$n" -v w=$((w1 - w0)) -v s=$((s1 - s0)) -v c=$((c1 - c0)) -v t="$ticks" 'BEGIN {
  if (n == 0) { print "no case created"; exit 1 }
  printf "%d cases in the database (warm-up included): %.0f KB and %.0f write calls per case, %.3f ms of server CPU per case\n",
    n, w / n / 1024, s / n, c * 1000 / t / n }'
grep VmHWM "/proc/$server/status"
# the fit, over the groups after the first tenth (the warm-up)
sed 's/\x1b\[[0-9;]*m//g' "$DIR/server.log" | grep 'case group committed' |
  sed -E 's/.*cases=([0-9]+) write_ms=([0-9.]+).*/\1 \2/' | awk '
  { n[NR] = $1; t[NR] = $2 }
  END {
    for (i = int(NR / 10) + 1; i <= NR; i++) { k++; sx += n[i]; sy += t[i]; sxx += n[i] * n[i]; sxy += n[i] * t[i] }
    if (k < 2 || k * sxx == sx * sx) { print "case writer: too few groups to fit"; exit }
    c = (k * sxy - sx * sy) / (k * sxx - sx * sx)
    printf "case writer: %d groups of %.0f cases on average: F %.2f ms per group + c %.3f ms per case\n", k, sx / k, (sy - c * sx) / k, c
  }'
