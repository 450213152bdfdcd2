#!/usr/bin/env bash
# Sets up and runs the whole test suite: formatting, lints, and every test (unit, integration
# against the real server binary, benchmark smoke runs) through cargo-nextest.
# The keyring test runs gnome-keyring in a private D-Bus session.
EXTRA_DEBIAN_PACKAGES=(dbus gnome-keyring)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
if ! cargo nextest --version >/dev/null 2>&1; then
    echo "==> installing cargo-nextest"
    cargo install cargo-nextest --locked
fi
# Stock Yjs clients (yjs + y-websocket under Node) for the document interop tests.
install_node_packages tests/interop
echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> tests"
cargo nextest run --workspace --locked "$@"
