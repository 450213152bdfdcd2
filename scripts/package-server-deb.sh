#!/usr/bin/env bash
# Builds the server's Debian package, parley-server_<version>_<arch>.deb, with dpkg-deb:
#   /usr/bin/parley-server, /lib/systemd/system/parley-server.service (packaging/),
#   /etc/parley/parley.toml (a conffile: docs/parley.example.toml with data_dir /var/lib/parley),
#   and a postinst that creates the parley-server system user and /var/lib/parley (0750).
# Usage: scripts/package-server-deb.sh [BINARY [OUTDIR]]
#   BINARY  the parley-server to package (default: a release build, made here)
#   OUTDIR  where the .deb goes (default: $CARGO_TARGET_DIR/debian)
# DEB_COMPRESSION: dpkg-deb's -Z (xz unless set; the tests use none), DEB_MAINTAINER: the
# Maintainer field.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/parley-target}"
binary="${1:-}"
outdir="${2:-$CARGO_TARGET_DIR/debian}"
if [ -z "$binary" ]; then
    # The release binary embeds the web app: build it first (ui/dist-web).
    if [ -f "$root/ui/node_modules/.package-lock.json" ]; then
        (cd "$root/ui" && npm run --silent build:web)
    else
        echo "package-server-deb: run 'npm ci' in ui/ first, so the web app can be built" >&2
        exit 1
    fi
    (cd "$root" && cargo build --release --locked -p parley-server)
    binary="$CARGO_TARGET_DIR/release/parley-server"
fi
if [ ! -x "$binary" ]; then
    echo "package-server-deb: $binary is not an executable" >&2
    exit 1
fi
for tool in dpkg-deb dpkg; do
    command -v "$tool" >/dev/null || { echo "package-server-deb: $tool is needed" >&2; exit 1; }
done

# "parley-server 0.1.0" -> 0.1.0: the version of the binary being packaged.
version="$("$binary" --version | awk '{print $2}')"
arch="$(dpkg --print-architecture)"
maintainer="${DEB_MAINTAINER:-Parley maintainers <parley@localhost>}"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
pkg="$stage/parley-server"
install -d -m 0755 "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/etc/parley" \
    "$pkg/usr/share/doc/parley-server"
install -m 0755 "$binary" "$pkg/usr/bin/parley-server"
install -m 0644 "$root/packaging/parley-server.service" "$pkg/lib/systemd/system/parley-server.service"
sed 's|^# data_dir = "/var/lib/parley".*$|data_dir = "/var/lib/parley"                 # the packaged service'"'"'s StateDirectory|' \
    "$root/docs/parley.example.toml" > "$pkg/etc/parley/parley.toml"
grep -q '^data_dir = "/var/lib/parley"' "$pkg/etc/parley/parley.toml" || {
    echo "package-server-deb: docs/parley.example.toml has no data_dir line to set" >&2
    exit 1
}
chmod 0644 "$pkg/etc/parley/parley.toml"
install -m 0644 "$root/docs/operations.md" "$pkg/usr/share/doc/parley-server/operations.md"
install -m 0644 "$root/docs/configuration.md" "$pkg/usr/share/doc/parley-server/configuration.md"

echo /etc/parley/parley.toml > "$pkg/DEBIAN/conffiles"
installed_size="$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)"
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: parley-server
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: adduser, libc6
Conflicts: parley
Section: net
Priority: optional
Description: Parley realtime chat and co-editing server
 A self-hostable server for chat channels with durable history, presence
 and collaborative documents, run by systemd as the parley-server user
 with its data in /var/lib/parley. The desktop app's package (parley)
 bundles its own copy of the server, so the two do not install together.
CONTROL

cat > "$pkg/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    if ! getent passwd parley-server >/dev/null; then
        adduser --system --group --quiet --home /var/lib/parley --no-create-home \
            --gecos "Parley server" parley-server
    fi
    install -d -m 0750 -o parley-server -g parley-server /var/lib/parley
    # The configuration may hold secrets: readable by the service, not by everyone.
    chown root:parley-server /etc/parley/parley.toml
    chmod 0640 /etc/parley/parley.toml
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        systemctl enable parley-server.service >/dev/null
        systemctl restart parley-server.service || true
    fi
fi
exit 0
POSTINST

cat > "$pkg/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
    systemctl stop parley-server.service || true
fi
exit 0
PRERM

# The data in /var/lib/parley and the parley-server user stay after a purge: they are the
# workspace (remove them by hand once a backup is kept: docs/operations.md).
cat > "$pkg/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi
if [ "$1" = purge ]; then
    rm -f /etc/systemd/system/multi-user.target.wants/parley-server.service
fi
exit 0
POSTRM
chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm" "$pkg/DEBIAN/postrm"

mkdir -p "$outdir"
deb="$outdir/parley-server_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" --build "$pkg" "$deb" >/dev/null
echo "$deb"
