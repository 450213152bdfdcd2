#!/usr/bin/env bash
# Sets up and runs the whole test suite: formatting, lints, the UI's type check and unit
# tests, and every Rust test (unit, integration against the real server binary, the desktop
# app end to end through tauri-driver + WebKitWebDriver under Xvfb, benchmark smoke runs)
# through cargo-nextest.
# Debian packages (common.sh): the app's (WebKitGTK), its headless desktop for the end-to-end
# tests (Xvfb, D-Bus, gnome-keyring, dunst, ImageMagick for screenshots) and WebKitWebDriver.
# nginx and caddy: the reverse-proxy tests run Parley behind real ones (client/tests/tls.rs,
# client/tests/caddy.rs). chromium and chromium-driver: the web app's and the SDK's browser
# tests (tests/tests/web.rs) drive headless Chromium through chromedriver.
# postgresql and redis-server: the PostgreSQL store's conformance suite and the scale-out
# tests start throwaway ones on free ports (testkit/src/postgres.rs).
EXTRA_DEBIAN_PACKAGES=(nginx caddy chromium chromium-driver postgresql redis-server)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
if ! cargo nextest --version >/dev/null 2>&1; then
    echo "==> installing cargo-nextest"
    cargo install cargo-nextest --locked
fi
if ! command -v tauri-driver >/dev/null 2>&1; then
    echo "==> installing tauri-driver"
    cargo install tauri-driver --locked
fi
# Stock Yjs clients (yjs + y-websocket under Node) for the document interop tests.
install_node_packages tests/interop
# The TypeScript SDK (@parley/client): type check and build (its tests under Node and in
# Chromium, tests/tests/sdk.rs and web.rs, load sdk/js/dist).
install_node_packages sdk/js
echo "==> sdk: build"
(cd sdk/js && npm run --silent build)
# The app's UI: type check, unit tests, then the builds the app embeds (dist) and the server
# serves as the web app (dist-web).
install_node_packages ui
echo "==> ui: svelte-check"
(cd ui && npm run --silent check)
echo "==> ui: vitest"
(cd ui && npm test --silent)
echo "==> ui: build"
(cd ui && npm run --silent build)
echo "==> ui: build the web app"
(cd ui && npm run --silent build:web)
echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# Every binary a test runs, built before the tests: nextest builds test executables and the
# binaries of their own package only, while the end-to-end tests run parley-app, parley-server
# (which the app hosts from the same directory), the parley CLI and the test helpers
# (keyring-probe) of other packages. parley-app embeds ui/dist, built above.
echo "==> build: every binary the tests run"
cargo build --workspace --bins --locked
echo "==> tests"
cargo nextest run --workspace --locked "$@"
# The server's integration tests once more with every test server on a PostgreSQL cluster of its
# own (the test kit starts them): the PostgreSQL store behind the real server, not only the
# store's conformance suite (docs/scaling.md). Tests that read the SQLite file keep SQLite.
echo "==> the server's tests on PostgreSQL"
PARLEY_TEST_BACKEND=postgres cargo nextest run -p parley-server --locked -E 'kind(test)' "$@"
