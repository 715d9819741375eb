#!/usr/bin/env bash
# Installs nsxd as a systemd service with socket activation:
#   sudo bash helper/daemon/systemd/install.sh        (from a built checkout or the extension's folder)
# Copies dist/ to /usr/local/lib/nsx, links nsx and nsxd into /usr/local/bin,
# creates the nsx group (empty), and enables nsxd.socket.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "install.sh must run as root: sudo bash $0" >&2; exit 1; }
[ -f "$src/dist/nsxd.js" ] || { echo "no dist/nsxd.js in $src: build first (npm run build)" >&2; exit 1; }
command -v node >/dev/null || { echo "node is not on PATH: install Node.js 20 or later" >&2; exit 1; }

getent group nsx >/dev/null || groupadd --system nsx
install -d -o root -g root -m 0755 /usr/local/lib/nsx /etc/nsx
rm -rf /usr/local/lib/nsx/dist
cp -r "$src/dist" /usr/local/lib/nsx/dist
cp "$src/README.md" /usr/local/lib/nsx/ 2>/dev/null || true
chown -R root:root /usr/local/lib/nsx
chmod -R go-w /usr/local/lib/nsx
ln -sf /usr/local/lib/nsx/dist/nsx /usr/local/bin/nsx
ln -sf /usr/local/lib/nsx/dist/nsxd.js /usr/local/bin/nsxd
[ -f /etc/nsx/nsxd.json ] || printf '{\n  "admins": [],\n  "rootShells": []\n}\n' > /etc/nsx/nsxd.json
chmod 0644 /etc/nsx/nsxd.json
install -m 0644 "$src/helper/daemon/systemd/nsxd.socket" "$src/helper/daemon/systemd/nsxd.service" /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now nsxd.socket
echo "nsxd.socket is listening on /run/nsx/nsxd.sock."
echo "Grant access (equivalent to root!) with: sudo usermod -aG nsx USER"
