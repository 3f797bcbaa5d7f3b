#!/usr/bin/env bash
# The point-to-grid lookup benchmark (issue 3): `wangge-bench locate` times
# wangge-geo's `LocateIndex::locate` over 100,000 generated grids on one core, and PostGIS
# `ST_Contains` on a GiST index over the same polygons in the same run.
# Results and their reading: BENCHMARKS.md, section "Point-to-grid lookup (issue 3)".
#
#   CARGO_TARGET_DIR=/root/.cargo-target/bench WANGGE_SKIP_WEB_BUILD=1 cargo build --release -p wangge-bench
#   BIN=/root/.cargo-target/bench/release crates/bench/run-locate.sh 2>&1 | tee locate.log
#
# Environment: BIN (directory of wangge-bench; default $CARGO_TARGET_DIR/release or
# target/release), COMMIT (the commit BIN was built from, for the log; default this checkout's
# HEAD), RUNS (runs, default 2), CPU (core the benchmark is pinned to with taskset,
# default 0), PG (PostgreSQL server URL without a database, default
# postgres://postgres@127.0.0.1:5432; empty to skip PostGIS), DB (database created for the run
# and dropped at the end, default wangge_bench_postgis). Further arguments go to
# `wangge-bench locate` (see `wangge-bench locate --help`).
#
# Installs the Debian package postgresql-15-postgis-3 when it is missing (needs root).
set -euo pipefail

BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release}
RUNS=${RUNS:-2}
CPU=${CPU:-0}
PG=${PG-postgres://postgres@127.0.0.1:5432}
DB=${DB:-wangge_bench_postgis}
TIME=(/usr/bin/time -v)

step() { printf '\n### %s\n$ %s\n' "$1" "${*:2}"; }
load() { printf 'load: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"; }

REPO=$(cd "$(dirname "$0")/../.." && pwd)
echo "commit: ${COMMIT:-$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)};" \
    "changed in the working tree: $(git -C "$REPO" status --porcelain -- crates/bench crates/geo 2>/dev/null | tr '\n' ' ')"
echo "date: $(date -u +%FT%TZ)"
echo "binary: $BIN/wangge-bench ($(stat -c '%y' "$BIN/wangge-bench" 2>/dev/null || echo missing))"
echo "machine: nproc $(nproc), $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
    "$(lscpu | grep -E '^L[23] cache' | tr -s ' ' | paste -sd, -)," \
    "$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)"
echo "transparent huge pages: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
load

PGARGS=()
if [ -n "$PG" ]; then
    if ! dpkg-query -W -f='${Status}' postgresql-15-postgis-3 2>/dev/null | grep -q 'install ok installed'; then
        step "install PostGIS" apt-get install -y postgresql-15-postgis-3
        DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-15-postgis-3 ||
            { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-15-postgis-3; }
    fi
    echo "postgis package: $(dpkg-query -W -f='${Package} ${Version}' postgresql-15-postgis-3)"
    step "database" psql "$PG/postgres" -c "'DROP DATABASE IF EXISTS $DB'" -c "'CREATE DATABASE $DB'"
    psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
    trap 'psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB"' EXIT
    psql -q "$PG/$DB" -c 'CREATE EXTENSION postgis'
    PGARGS=(--postgis-url "$PG/$DB")
fi

for i in $(seq 1 "$RUNS"); do
    step "run $i" "${TIME[@]}" taskset -c "$CPU" "$BIN/wangge-bench" locate "${PGARGS[@]}" "$@"
    load
    "${TIME[@]}" taskset -c "$CPU" "$BIN/wangge-bench" locate "${PGARGS[@]}" "$@" 2>&1
    load
done
