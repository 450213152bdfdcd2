# Shared by run.sh and test.sh: install what Parley needs on Debian, idempotently.
set -euo pipefail

# One build cache outside the clone, so repeated runs (and CI) stay fast.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/parley-target}"

# libdbus-1-dev: the client's keyring support (Secret Service over D-Bus) links libdbus.
# The desktop app (Tauri on WebKitGTK) and what runs and tests it headless.
APP_DEBIAN_PACKAGES=(libwebkit2gtk-4.1-dev file libxdo-dev libssl-dev libayatana-appindicator3-dev
    librsvg2-dev xvfb xauth webkit2gtk-driver dbus dbus-x11 gnome-keyring keyutils dunst imagemagick
    xdotool fonts-noto-color-emoji)
# Workspace builds include the app, so they need them; SERVER_ONLY=1 (run.sh --server)
# builds the server alone and skips them.
if [ "${SERVER_ONLY:-0}" = 1 ]; then APP_DEBIAN_PACKAGES=(); fi
# systemd: systemd-analyze, with which the server package's test checks its unit file.
DEBIAN_PACKAGES=(build-essential pkg-config procps ca-certificates libdbus-1-dev systemd
    "${APP_DEBIAN_PACKAGES[@]:-}" "${EXTRA_DEBIAN_PACKAGES[@]:-}")

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_debian_packages() {
    local missing=()
    for pkg in "${DEBIAN_PACKAGES[@]}"; do
        [ -n "$pkg" ] || continue
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "==> installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    fi
}

require_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        for dir in "$HOME/.cargo/bin" /usr/local/cargo/bin; do
            [ -x "$dir/cargo" ] && export PATH="$dir:$PATH"
        done
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "Parley needs a Rust toolchain (1.89 or newer). Install it with rustup (https://rustup.rs)," >&2
        echo "then run this command again." >&2
        exit 1
    fi
}

# npm packages of a folder, exactly as its package-lock.json pins them (skipped when present).
install_node_packages() {
    local dir="$1"
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo "==> installing Node.js"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
    fi
    if [ ! -f "$dir/node_modules/.package-lock.json" ] \
        || ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.parley"; then
        echo "==> npm ci in $dir"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
        cp "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.parley"
    fi
}

cd "$(dirname "${BASH_SOURCE[0]}")/.."
install_debian_packages
require_rust
