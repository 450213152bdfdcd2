#!/usr/bin/env bash
# Sets up and runs Parley: installs what it needs, builds the UI, the bundled server (release)
# and the desktop app (size-optimized), and launches the app. On first run choose "Host a
# workspace on this computer" (the bundled server, data in
# ~/.local/share/app.parley.desktop/server) or join one.
#   ./scripts/run.sh --server [parley-server args]   runs only the server (headless machines):
#   builds and starts parley-server on 127.0.0.1:7878 with its data in ~/.local/share/parley.
# Either way the server carries the web app (ui/dist-web, built here), served at its address.
if [ "${1:-}" = "--server" ]; then SERVER_ONLY=1; fi
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
install_node_packages ui
(cd ui && npm run --silent build:web)
if [ "${1:-}" = "--server" ]; then
    shift
    cargo build --release -p parley-server
    exec "$CARGO_TARGET_DIR/release/parley-server" "$@"
fi
(cd ui && npm run --silent build)
# The app (the size-optimized profile it ships with, Cargo.toml) starts the server installed
# next to it: the release build, linked into the app's directory.
cargo build --release -p parley-server
cargo build --profile app-small -p parley-app --bin parley-app
ln -sfn ../release/parley-server "$CARGO_TARGET_DIR/app-small/parley-server"
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    echo "No display: the desktop app needs a graphical session." >&2
    echo "Run it from a desktop, or use ./scripts/run.sh --server for the server alone." >&2
    exit 1
fi
exec "$CARGO_TARGET_DIR/app-small/parley-app" "$@"
