#!/usr/bin/env bash
# The "Foundation" benchmark: import the synthetic national list with `wangge import units`
# (wall time, peak memory) and time the children listing, on SQLite and on PostgreSQL.
# Results and their reading: BENCHMARKS.md at the top of the repository.
#
#   WANGGE_SKIP_WEB_BUILD=1 cargo build --release -p wangge-cli -p wangge-bench
#   crates/bench/run-foundation.sh 2>&1 | tee foundation.log
#
# Environment: BIN (directory of the two binaries; default $CARGO_TARGET_DIR/release or
# target/release), WORK (scratch directory, default /tmp/wangge-bench), RUNS (imports per backend,
# default 2), PG (PostgreSQL URL without options, default postgres://postgres@127.0.0.1:5432/test;
# empty to skip PostgreSQL). PostgreSQL runs go to a schema `bench` that is dropped at the end.
set -euo pipefail

BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release}
WORK=${WORK:-/tmp/wangge-bench}
RUNS=${RUNS:-2}
PG=${PG-postgres://postgres@127.0.0.1:5432/test}
PGURL="$PG?options=-c%20search_path%3Dbench"
TIME=(/usr/bin/time -v)

step() { printf '\n### %s\n$ %s\n' "$1" "${*:2}"; }
load() { printf 'load: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"; }

mkdir -p "$WORK"
echo "commit: $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "date: $(date -u +%FT%TZ)"

step "generate" "$BIN/wangge-bench" gen-units --out "$WORK/national.csv"
"$BIN/wangge-bench" gen-units --out "$WORK/national.csv"
sha256sum "$WORK/national.csv"

for i in $(seq 1 "$RUNS"); do
    rm -rf "$WORK/sqlite-$i"
    step "SQLite import, run $i (fresh data directory)" "${TIME[@]}" "$BIN/wangge" --data-dir "$WORK/sqlite-$i" import units "$WORK/national.csv"
    load
    "${TIME[@]}" "$BIN/wangge" --data-dir "$WORK/sqlite-$i" import units "$WORK/national.csv" 2>&1
    load
done
step "SQLite children latency" "$BIN/wangge-bench" children-latency --database-url "sqlite://$WORK/sqlite-$RUNS/wangge.db"
load
"$BIN/wangge-bench" children-latency --database-url "sqlite://$WORK/sqlite-$RUNS/wangge.db"
load

if [ -n "$PG" ]; then
    for i in $(seq 1 "$RUNS"); do
        psql -q "$PG" -c 'DROP SCHEMA IF EXISTS bench CASCADE' -c 'CREATE SCHEMA bench' 2>/dev/null
        rm -rf "$WORK/pg-$i"
        step "PostgreSQL import, run $i (fresh schema bench)" "${TIME[@]}" "$BIN/wangge" --data-dir "$WORK/pg-$i" --database-url "'$PGURL'" import units "$WORK/national.csv"
        load
        "${TIME[@]}" "$BIN/wangge" --data-dir "$WORK/pg-$i" --database-url "$PGURL" import units "$WORK/national.csv" 2>&1
        load
    done
    psql "$PGURL" -c "SHOW autovacuum" -c "SELECT relname, last_analyze, last_autoanalyze, n_mod_since_analyze FROM pg_stat_user_tables WHERE schemaname = 'bench' AND relname = 'units'"
    step "PostgreSQL children latency, as imported (no ANALYZE yet)" "$BIN/wangge-bench" children-latency --database-url "'$PGURL'" --samples 20 --walk-limit 5
    load
    "$BIN/wangge-bench" children-latency --database-url "$PGURL" --samples 20 --walk-limit 5
    step "ANALYZE" psql "'$PGURL'" -c "'ANALYZE units'" -c "'ANALYZE unit_history'"
    psql -q "$PGURL" -c 'ANALYZE units' -c 'ANALYZE unit_history'
    step "PostgreSQL children latency, after ANALYZE" "$BIN/wangge-bench" children-latency --database-url "'$PGURL'"
    load
    "$BIN/wangge-bench" children-latency --database-url "$PGURL"
    load
    psql -q "$PG" -c 'DROP SCHEMA IF EXISTS bench CASCADE' 2>/dev/null
fi
