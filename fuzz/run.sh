#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers of outside input, with cargo-fuzz (libFuzzer, ASan).
#
#   fuzz/run.sh [TARGET|all] [SECONDS]     run one target (or each in turn) for SECONDS (60)
#   MERGE=1 fuzz/run.sh …                  then merge the inputs with new edges into corpus/
#   BUILD=0 fuzz/run.sh …                  run the binaries last built, without `cargo fuzz build`
#   fuzz/run.sh list                       the targets
#
# Seeds and the kept corpus are in fuzz/corpus/<target>/ (read, never written by a run); what a
# run finds goes to $CARGO_TARGET_DIR/new-corpus/<target>/, crashes to fuzz/artifacts/<target>/.
# The machine's stable toolchain is enough: cargo-fuzz passes -Z flags (-Zsanitizer=address and
# the coverage passes), which stable rustc accepts with RUSTC_BOOTSTRAP=1. See
# docs/operations.md, "Fuzzing and property tests".
set -euo pipefail
cd "$(dirname "$0")"

target="${1:-all}"
seconds="${2:-60}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cargo-target/wangge-fuzz}"
export WANGGE_SKIP_WEB_BUILD=1
export RUSTC_BOOTSTRAP=1
# as `cargo fuzz run` does: the bundled SQLite trips ASan's ODR check in instrumented builds
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_odr_violation=0"

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
if [ "$target" = list ]; then
  cargo fuzz list
  exit 0
fi
if [ "$target" = all ]; then
  targets=$(cargo fuzz list)
else
  targets="$target"
fi

# libFuzzer options: a crash on any input slower than 10 s or any allocation above 2 GB (the
# RSS limit), inputs no longer than the largest seed (at least 4 KB), one job (2 shared cores).
opts=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048
  -print_final_stats=1)

# Build once, then run the binaries (`cargo fuzz run` would rebuild whenever a source changed).
if [ "${BUILD:-1}" != 0 ]; then
  cargo fuzz build
fi
bin="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
status=0
for t in $targets; do
  new="$CARGO_TARGET_DIR/new-corpus/$t"
  mkdir -p "$new" "corpus/$t" "artifacts/$t"
  echo "== $t for ${seconds}s"
  if ! "$bin/$t" -artifact_prefix="artifacts/$t/" "${opts[@]}" "$new" "corpus/$t"; then
    status=1
    echo "!! $t failed: see fuzz/artifacts/$t/" >&2
  fi
  if [ "${MERGE:-0}" = 1 ]; then
    # new edges only (-use_counters=0): hit counts would keep a thousand files per target
    "$bin/$t" -merge=1 -use_counters=0 -artifact_prefix="artifacts/$t/" "corpus/$t" "$new" 2>&1 |
      grep -E "MERGE-OUTER: [0-9]+ new files" || true
  fi
done
exit $status
