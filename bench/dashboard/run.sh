#!/usr/bin/env bash
# Dashboard at scale: 100 models and 30 days. Starts a release server on a temporary
# store, loads 1,000,000 events over 30 days into model `bench` (modelwatch bench) and
# 99 small models (seed.py), then times the dashboard's pages in headless Chromium
# (measure.mjs). Needs what .ci/run installs (chromium, playwright-core).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet
data=$(mktemp -d)
port=${PORT:-8490}
./target/release/modelwatch serve --listen "127.0.0.1:$port" --data-dir "$data" >/dev/null 2>&1 &
server=$!
trap 'kill $server; rm -rf "$data"' EXIT
sleep 1
./target/release/modelwatch bench --url "http://127.0.0.1:$port" --events 1000000 --days 30 --query-repeats 1 | tail -3
python3 bench/dashboard/seed.py "http://127.0.0.1:$port" 99
(cd crates/cli/tests/browser && [ -d node_modules ] || npm ci --no-audit --no-fund --silent)
node bench/dashboard/measure.mjs "http://127.0.0.1:$port" bench
