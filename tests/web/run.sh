#!/usr/bin/env bash
# Browser tests of the portal and the web chat (headless Debian Chromium via
# playwright-core, against the real relay). Run from anywhere after
# `cargo build -p lotse-relay`; honours CARGO_TARGET_DIR. Screenshots go to
# target/web-artifacts/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
relay="${LOTSE_RELAY_BIN:-$target/debug/lotse-relay}"
if [ ! -x "$relay" ]; then
    echo "tests/web: $relay not found; run 'cargo build -p lotse-relay' first" >&2
    exit 1
fi
chromium="${LOTSE_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
    echo "tests/web: $chromium not found (Debian package chromium)" >&2
    exit 1
fi
command -v node >/dev/null || { echo "tests/web: node not found" >&2; exit 1; }

cd "$here"
# Exactly the versions in package-lock.json; never a browser download.
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
export LOTSE_RELAY_BIN="$relay" LOTSE_CHROMIUM="$chromium"
exec node --test --test-concurrency=1 --test-reporter=spec e2e.test.mjs
