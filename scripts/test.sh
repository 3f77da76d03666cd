#!/usr/bin/env bash
# Every test: unit, storage stories on SQLite and PostgreSQL, the real centre on loopback,
# crash (SIGKILL) and fault-injection suites, browser tests in headless Chromium.
# Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/daiban/target}"
DAIBAN_TEST_PG_URL="$(scripts/ensure-postgres.sh)"
export DAIBAN_TEST_PG_URL
cargo test --workspace --no-fail-fast "$@"
