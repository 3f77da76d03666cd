#!/usr/bin/env bash
# The main job: a demo township centre (桃源镇, embedded SQLite) plus the agent app, enrolled
# with the centre automatically. A desktop window when there is a display; otherwise the
# app's browser preview on 127.0.0.1:8090. Ctrl-C stops both.
#
#   DAIBAN_DEMO_DIR   where the demo keeps its data (default ~/.local/share/daiban-demo)
#   DAIBAN_CENTRE_ADDR / DAIBAN_PREVIEW   listen addresses (127.0.0.1:8080 / 127.0.0.1:8090)
#   DAIBAN_DEMO_BIN   a directory holding daiban-centre and daiban already built; the demo
#                     then does not build (tests/demo_loop.rs runs the demo with its own build)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/daiban/target}"

demo="${DAIBAN_DEMO_DIR:-$HOME/.local/share/daiban-demo}"
centre_addr="${DAIBAN_CENTRE_ADDR:-127.0.0.1:8080}"
mkdir -p "$demo/centre" "$demo/agent"

if [ -n "${DAIBAN_DEMO_BIN:-}" ]; then
    bin="$DAIBAN_DEMO_BIN"
else
    echo "demo: building (the first build takes several minutes on 2 cores)…" >&2
    cargo build --quiet --bin daiban-centre --bin daiban
    bin="$CARGO_TARGET_DIR/debug"
fi

# Sample document photos for the browser preview (it cannot receive file uploads): a made-up
# specimen of every photo the catalogue's materials ask for, marked 样例 (rendered once, about
# a minute; files already there are kept).
echo "demo: sample documents (样例) in $demo/sample-documents" >&2
scripts/sample-documents.py "$demo/sample-documents"

"$bin/daiban-centre" demo --listen "$centre_addr" --data "$demo/centre" &
centre=$!
trap 'kill $centre 2>/dev/null; wait $centre 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do
    [ -s "$demo/centre/enrolment-code.txt" ] && curl -s -o /dev/null "http://$centre_addr/" && break
    sleep 0.2
done

echo "demo: staff web UI at http://$centre_addr/  (accounts printed above)" >&2
"$bin/daiban" --data "$demo/agent" --centre "http://$centre_addr" \
    --enrol-code-file "$demo/centre/enrolment-code.txt" --sample-photos "$demo/sample-documents" "$@"
