#!/usr/bin/env bash
# Install what a fresh Debian machine lacks to build, run and test Daiban. Idempotent and
# quiet when everything is there. Called by scripts/demo.sh and scripts/test.sh.
set -euo pipefail

packages=(
    build-essential pkg-config libssl-dev          # C deps of bundled SQLite / ring
    libwebkit2gtk-4.1-dev libgtk-3-dev libxdo-dev  # Dioxus desktop window
    chromium chromium-driver                       # browser tests (liveview app, staff web UI)
    xvfb xauth imagemagick libjpeg-turbo-progs     # screenshots, photo benchmark baseline
    libimage-exiftool-perl                         # EXIF fixtures in photo tests
    plasma-workspace-wallpapers                    # real photographs used by tests
    lomiri-wallpapers-16.04                        # real 8-16 MP camera photos (benchmarks)
    fonts-noto-cjk                                 # Chinese text in screenshots and the A4 test page
    postgresql                                     # PostgreSQL backend tests
    python3-pip                                    # tuspy (third-party tus client) for tests
    iproute2 curl                                  # network namespaces for link emulation; demo readiness probe
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    sudo_cmd=""
    [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo_cmd apt-get update -qq >&2
    $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! python3 -c "import tusclient" 2>/dev/null; then
    echo "setup: installing tuspy (PyPI)" >&2
    python3 -m pip install --quiet tuspy >&2 || python3 -m pip install --quiet --break-system-packages tuspy >&2
fi

if ! command -v cargo >/dev/null; then
    echo "setup: cargo not found; install Rust (https://rustup.rs) and run again" >&2
    exit 1
fi
