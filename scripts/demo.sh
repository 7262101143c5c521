#!/usr/bin/env bash
# Runs Lotse on this machine: builds it, starts the relay with its embedded
# defaults, makes a demo technician account, and (where a display exists)
# opens the technician console and a customer client connected to it.
#
#   ./scripts/demo.sh
#
# Environment: LOTSE_LISTEN (default 127.0.0.1:8443), LOTSE_DATA_DIR
# (default target/demo), CARGO_TARGET_DIR. Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh

listen=${LOTSE_LISTEN:-127.0.0.1:8443}
data=${LOTSE_DATA_DIR:-target/demo}
bin=${CARGO_TARGET_DIR:-target}/debug

if [ -n "${DISPLAY:-}" ]; then lotse_need build run; else lotse_need build; fi

echo "==> building relay, client and console (first build takes a few minutes)"
cargo build -p lotse-relay -p lotse-client -p lotse-console

mkdir -p "$data"
account="$data/demo-technician.txt"
if [ ! -s "$account" ]; then
    password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
    echo "==> creating the technician account 'demo'"
    printf '%s\n' "$password" | "$bin/lotse-relay" --data-dir "$data" user add demo
    (umask 077 && printf 'user: demo\npassword: %s\n' "$password" > "$account")
fi

pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log="$data/relay.log"
echo "==> starting the relay on $listen (log: $log)"
"$bin/lotse-relay" --data-dir "$data" --listen "$listen" > "$log" 2>&1 &
relay_pid=$!
pids+=("$relay_pid")

url="" pin=""
for _ in $(seq 600); do
    url=$(sed -n 's/^listening on https:\/\//wss:\/\//p' "$log" | head -n1)
    pin=$(sed -n 's/^certificate sha256 \([0-9a-f]\{64\}\)$/\1/p' "$log" | head -n1)
    [ -n "$url" ] && [ -n "$pin" ] && break
    if ! kill -0 "$relay_pid" 2>/dev/null; then
        echo "The relay stopped:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$url" ] || [ -z "$pin" ]; then
    echo "The relay did not report its address within 60 s; see $log" >&2
    exit 1
fi

cat <<EOF

Lotse relay is running.
  portal (browser):      ${url/wss:/https:}/
  relay address:         $url
  certificate sha256:    $pin
  technician account:    $(sed -n 's/^user: //p' "$account") / $(sed -n 's/^password: //p' "$account")   (also in $account)
  customer client:       $bin/lotse --relay $url --pin $pin
  technician console:    $bin/lotse-console --relay $url --pin $pin

EOF

if [ -n "${DISPLAY:-}" ]; then
    echo "==> opening the technician console and a customer client on $DISPLAY"
    "$bin/lotse-console" --relay "$url" --pin "$pin" &
    pids+=("$!")
    "$bin/lotse" --relay "$url" --pin "$pin" &
    pids+=("$!")
else
    echo "No display (\$DISPLAY is not set): not opening the console and client."
    echo "Run them on a machine with a display using the commands above."
fi
echo "Press Ctrl-C to stop."
wait "$relay_pid"
