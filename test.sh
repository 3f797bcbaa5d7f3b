#!/usr/bin/env bash
# Runs every test: Rust unit, storage conformance and API tests (SQLite always; PostgreSQL too when
# WANGGE_TEST_DATABASE_URL is set), then the web app's end-to-end tests in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cargo-target/wangge}"

if [ -n "${WANGGE_TEST_DATABASE_URL:-}" ]; then
  echo "== databases: SQLite and PostgreSQL ($WANGGE_TEST_DATABASE_URL)"
else
  echo "== databases: SQLite only (set WANGGE_TEST_DATABASE_URL=postgres://… to add PostgreSQL)"
fi

# Builds the web app too (crates/server/build.rs runs npm ci / npm run build when web/ changed).
cargo build -p wangge-cli
cargo test --workspace

echo "== web end-to-end tests (headless Chromium)"
if [ ! -x /usr/bin/chromium ]; then
  echo "error: /usr/bin/chromium is missing: apt-get install -y chromium fonts-noto-cjk" >&2
  exit 1
fi
cd web
WANGGE_BIN="$CARGO_TARGET_DIR/debug/wangge" npm run --silent e2e
