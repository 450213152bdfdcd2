#!/usr/bin/env bash
# Measures the desktop app (release build): total memory of all its processes after loading
# 10 channels x 10,000 messages, and cold start to an interactive channel view. Runs in a
# private headless desktop (Xvfb, D-Bus, gnome-keyring) like the end-to-end tests.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
if ! command -v tauri-driver >/dev/null 2>&1; then
    cargo install tauri-driver --locked
fi
install_node_packages ui
# The build output goes to stderr: stdout is the record (make measure-app tees it).
(cd ui && npm run --silent build) >&2
cargo build --release --locked -p parley-server -p parley-tests --bins
# The app as people get it: the size-optimized profile of scripts/package.sh.
cargo build --profile app-small --locked -p parley-app --bin parley-app
PARLEY_APP_BIN="$CARGO_TARGET_DIR/app-small/parley-app" exec "$CARGO_TARGET_DIR/release/app-measure"
