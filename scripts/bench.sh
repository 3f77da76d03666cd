#!/usr/bin/env bash
# Every benchmark of the project, each measuring our implementation and its baseline in the
# same run, in release builds; prints their tables (markdown) and a summary. Figures and what
# they mean: docs/benchmarks.md.
#
#   scripts/bench.sh                 everything (about an hour on 2 cores)
#   scripts/bench.sh photo inbox     only these (photo, agent_app, ingest, inbox, link)
#   DAIBAN_BENCH_QUICK=1 scripts/bench.sh
#                                    smaller workloads (minutes), for checking that all run
#
# Outputs are kept in ${DAIBAN_BENCH_OUT:-$TMPDIR/daiban-bench}/<name>.md. The ingest
# benchmark runs PostgreSQL on a durable cluster of its own (fsync on; port 55433), not on the
# tests' throwaway one; DAIBAN_BENCH_PG_URL overrides it. Exits non-zero if a benchmark failed
# or missed a target.
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/daiban/target}"
out="${DAIBAN_BENCH_OUT:-${TMPDIR:-/tmp}/daiban-bench}"
mkdir -p "$out"

all=(photo agent_app ingest inbox link)
wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=("${all[@]}")

if [ -n "${DAIBAN_BENCH_QUICK:-}" ]; then
    export DAIBAN_BENCH_APPS="${DAIBAN_BENCH_APPS:-2000}"                   # agent_app
    export DAIBAN_BENCH_SECONDS="${DAIBAN_BENCH_SECONDS:-5}"                # ingest
    export DAIBAN_BENCH_APPLICATIONS="${DAIBAN_BENCH_APPLICATIONS:-10000}"  # inbox
    export DAIBAN_LINK_QUICK=1                                              # link
fi

command_of() {
    case "$1" in
        photo) echo "cargo bench -p daiban-agent-core --bench photo" ;;
        agent_app) echo "cargo bench -p daiban --bench agent_app" ;;
        ingest) echo "cargo bench -p daiban-centre --bench ingest" ;;
        inbox) echo "cargo bench -p daiban-centre --bench inbox" ;;
        link) echo "cargo bench -p daiban-agent-core --bench link" ;;
        *) return 1 ;;
    esac
}

declare -A status
for name in "${wanted[@]}"; do
    cmd="$(command_of "$name")" || { echo "unknown benchmark: $name (${all[*]})" >&2; exit 2; }
    if [ "$name" = ingest ] && [ -z "${DAIBAN_BENCH_PG_URL:-}" ]; then
        DAIBAN_BENCH_PG_URL="$(DAIBAN_PG_DURABLE=1 DAIBAN_PG_PORT=55433 DAIBAN_PG_DIR=/var/tmp/daiban-bench-pg scripts/ensure-postgres.sh)" \
            || { echo "no PostgreSQL for the ingest benchmark" >&2; status[$name]="no PostgreSQL"; continue; }
        export DAIBAN_BENCH_PG_URL
    fi
    echo "==> $name: $cmd" >&2
    started=$SECONDS
    # the bench's own output (tables) to stdout and the file; cargo's and progress to stderr
    $cmd 2> >(tee "$out/$name.log" >&2) | tee "$out/$name.md"
    code=${PIPESTATUS[0]}
    status[$name]="$([ "$code" = 0 ] && echo ok || echo "FAILED (exit $code)") in $((SECONDS - started)) s"
done

echo
echo "## Summary"
echo
failed=0
for name in "${wanted[@]}"; do
    echo "- $name: ${status[$name]}"
    case "${status[$name]}" in ok*) ;; *) failed=1 ;; esac
    grep -h '^FAIL ' "$out/$name.md" 2>/dev/null | sed 's/^/    /'
done
echo
echo "outputs in $out"
exit $failed
