#!/usr/bin/env bash
# Installs what test/vscode/run.mjs needs to run the extension's VS Code test
# suite in a real workbench without desktop VS Code: code-server (the VS Code
# server + web workbench) driven by Debian's headless Chromium.
#
# Idempotent and cheap when everything is already there. Only the npm registry
# and Debian's apt are used: code-server's one GitHub download (ripgrep) is
# served from a local cache built from Debian's rg.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# 4.103+ need Node 22; this machine runs Node 20.
CS_VERSION=4.100.3
CS_DIR="$ROOT/.vscode-test/code-server-$CS_VERSION"
CS_BIN="$CS_DIR/node_modules/.bin/code-server"
# Written only after a complete install, so an interrupted one is redone.
CS_MARKER="$CS_DIR/.installed"

# The @vscode/ripgrep version pinned by code-server 4.100.3's
# lib/vscode/npm-shrinkwrap.json, and the ripgrep release that version fetches.
RG_PKG_VERSION=1.15.11
RG_RELEASE=v13.0.0-10

log() { echo "[setup-vscode-test] $*"; }

# --- Debian packages -------------------------------------------------------
# chromium: the browser the workbench runs in; python3, make, g++, pkg-config,
# libkrb5-dev: node-gyp builds of code-server's native modules (kerberos needs
# krb5); ripgrep: stands in for the rg binary @vscode/ripgrep would download.
APT_PACKAGES=(chromium python3 make g++ libkrb5-dev pkg-config ripgrep)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  log "installing apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
else
  log "apt packages present"
fi

# --- code-server -------------------------------------------------------------
if [[ -f "$CS_MARKER" && -x "$CS_BIN" ]]; then
  log "code-server $CS_VERSION present"
  exit 0
fi

# Seed @vscode/ripgrep's download cache: its postinstall uses an archive found
# at this path instead of fetching it from GitHub (unreachable here).
case "$(uname -m)" in
  x86_64) RG_TARGET=x86_64-unknown-linux-musl ;;
  aarch64) RG_TARGET=aarch64-unknown-linux-musl ;;
  *) echo "unsupported architecture: $(uname -m)" >&2; exit 1 ;;
esac
RG_CACHE="${TMPDIR:-/tmp}/vscode-ripgrep-cache-$RG_PKG_VERSION"
RG_ARCHIVE="$RG_CACHE/ripgrep-$RG_RELEASE-$RG_TARGET.tar.gz"
if [[ ! -s "$RG_ARCHIVE" ]]; then
  mkdir -p "$RG_CACHE"
  tar -czf "$RG_ARCHIVE" -C "$(dirname "$(command -v rg)")" rg
fi

log "installing code-server $CS_VERSION into ${CS_DIR#"$ROOT"/} (builds native modules, about a minute)"
rm -rf "$CS_DIR"
mkdir -p "$CS_DIR"
# A package.json of its own makes this folder the npm project, so the install
# neither touches nor is governed by the repository's package.json.
cat >"$CS_DIR/package.json" <<EOF
{
  "name": "vscode-test-code-server",
  "private": true,
  "allowScripts": { "code-server@$CS_VERSION": true }
}
EOF

# Run from an npm script (npm test, npm exec), this inherits that npm's
# settings and per-command state as lowercase npm_* variables; passed on to
# the nested installs below they break them (npm_config_call makes their npx
# calls fail). The nested npm rereads the same .npmrc files, and settings a
# user exports as NPM_CONFIG_* stay.
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^npm_' || true)

# code-server's postinstall refuses to run as root without unsafe-perm, then
# runs nested `npm install`s (lib/vscode, its extensions) whose packages have
# install scripts of their own: keep npm 11 from prompting or from turning
# those unreviewed scripts into errors.
export npm_config_unsafe_perm=true
export npm_config_yes=true
export npm_config_strict_allow_scripts=false
# node-gyp would download Node's headers unless pointed at the running node's.
NODE_PREFIX="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
if [[ -f "$NODE_PREFIX/include/node/node.h" ]]; then
  export npm_config_nodedir="$NODE_PREFIX"
fi

start=$SECONDS
(cd "$CS_DIR" && npm install --no-audit --no-fund --loglevel=error "code-server@$CS_VERSION")
echo "$CS_VERSION" >"$CS_MARKER"
log "code-server $CS_VERSION installed in $((SECONDS - start))s"
