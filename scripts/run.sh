#!/usr/bin/env bash
# Sets up and runs Parley: builds and starts parley-server on 127.0.0.1:7878 with its data in
# ~/.local/share/parley. Extra arguments go to parley-server (e.g. `serve --listen 0.0.0.0:7878`).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cargo build --release -p parley-server
exec "$CARGO_TARGET_DIR/release/parley-server" "$@"
