#!/usr/bin/env bash
# Do the real client's windows answer a close request on a loaded machine?
# Starts the downloaded client 30 times, 3 at a time, each against its own
# relay under its own Xvfb + openbox, with 2 busy loops beside them; sends
# WM_DELETE_WINDOW the way the tests do and prints "N of 30 closed within
# 5 s". Not part of the normal test run; results in docs/RELIABILITY.md.
#
#   ./scripts/stress-windows.sh [--unsynced] [RUNS [PARALLEL]]
#
# --unsynced closes the old way (flush and hang up without a round trip),
# to show the "frozen window" the tests used to retry. Honors
# CARGO_TARGET_DIR. Exits non-zero unless every window closed.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh

lotse_need build run test

target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac

echo "==> building relay, client and the stress driver"
cargo build -p lotse-relay -p lotse-client
cargo build -p lotse-e2e --bin stress_windows

busy=()
cleanup() {
    local pid
    for pid in "${busy[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for _ in 1 2; do
    sh -c 'while :; do :; done' &
    busy+=("$!")
done
echo "==> $(nproc) cores, 2 busy loops; load average $(cut -d' ' -f1-3 /proc/loadavg)"

unset DISPLAY WAYLAND_DISPLAY
LOTSE_RELAY_BIN="$target/debug/lotse-relay" "$target/debug/stress_windows" "$@"
