#!/usr/bin/env bash
# Runs every Lotse test: the command README.md names and .ci/run calls.
#
#   ./scripts/test.sh
#
# As root it installs the Debian packages the tests need when they are
# missing; otherwise it names them. Honors CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh

lotse_need build run test
if [ -x tests/web/run.sh ] || [ -f tests/web/run.sh ]; then
    lotse_need web
    if ! command -v node >/dev/null; then
        LOTSE_PKGS_node="nodejs npm" lotse_need node
    fi
fi

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

step "format check"
cargo fmt --all -- --check

# The end-to-end tests spawn these binaries from the target directory.
step "build the binaries the end-to-end tests start"
cargo build -p lotse-relay -p lotse-client -p lotse-console

# nextest runs each test in its own process: window tests need that
# (winit allows one event loop per process).
if cargo nextest --version >/dev/null 2>&1; then
    step "cargo nextest run --workspace"
    # .config/nextest.toml runs the real-client window tests one at a time
    # and retries nothing.
    cargo nextest run --workspace --no-fail-fast
    step "doc tests"
    cargo test --workspace --doc
else
    step "cargo test --workspace (cargo-nextest not found)"
    cargo test --workspace --no-fail-fast -- --test-threads=1
fi

if [ -f tests/web/run.sh ]; then
    step "browser tests (tests/web/run.sh)"
    bash tests/web/run.sh
fi

step "all tests passed in $((SECONDS - started)) s"
