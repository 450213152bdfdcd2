#!/usr/bin/env bash
# Builds the desktop app's .deb (the Tauri CLI), with the bundled parley-server in
# /usr/bin next to the app. The app is built with the size-optimized `app-small` profile
# (Cargo.toml), the server with `release`. Output: $CARGO_TARGET_DIR/app-small/bundle/deb/Parley_*.deb
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
install_node_packages ui
(cd ui && npm run --silent build && npm run --silent build:web)
# The bundled server carries the web app (ui/dist-web) for teammates without the app.
cargo build --release --locked -p parley-server
mkdir -p src-tauri/binaries
cp "$CARGO_TARGET_DIR/release/parley-server" src-tauri/binaries/parley-server
TAURI_APP_PATH=src-tauri ui/node_modules/.bin/tauri build --bundles deb -- --locked --profile=app-small
ls -l "$CARGO_TARGET_DIR"/app-small/bundle/deb/*.deb
