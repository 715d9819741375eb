#!/usr/bin/env bash
# Installs what Namespace Explorer needs on a fresh Debian machine, and is
# quick when it is all there already:
#   bash scripts/setup.sh          build and run: a C compiler, util-linux, iproute2, procps, npm packages
#   bash scripts/setup.sh --test   also what the tests need: code-server and Chromium (scripts/setup-vscode-test.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { echo "[setup] $*"; }

# Debian packages: cc builds nsx-exec, nsx-session and nsx from native/*.c; util-linux brings lsns, nsenter,
# unshare, setpriv, runuser; iproute2 brings ip; procps brings ps and pgrep;
# passwd brings useradd (tests make real users); bsdutils brings script and
# tmux drives a terminal (tests and bench); less is a full-screen program to test.
# libpcap-dev: native/nsx-capture.c compiles filters with libpcap (loaded only for a filter).
need=()
command -v cc >/dev/null || need+=(gcc libc6-dev)
[ -f /usr/include/pcap/pcap.h ] || need+=(libpcap-dev)
for pair in lsns:util-linux ip:iproute2 pgrep:procps useradd:passwd script:bsdutils tmux:tmux less:less; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  log "installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm packages, reinstalled only when package-lock.json changed.
stamp=node_modules/.nsx-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  log "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

if [ "${1:-}" = "--test" ]; then
  # Real container engines for the containers tests: podman with runc (its
  # default crun cannot run here), Docker, and busybox for an image made
  # without any registry; debootstrap makes the Debian root that the install
  # test boots systemd in, unzip reads the .vsix, and clang-format checks the C helpers' style.
  engines=()
  # tshark reads captures back, ping makes traffic to capture; sshd serves the hosts of the --host tests.
  for pair in podman:podman runc:runc dockerd:docker.io debootstrap:debootstrap unzip:unzip clang-format:clang-format \
    tshark:tshark tcpdump:tcpdump ping:iputils-ping /usr/sbin/sshd:openssh-server; do
    command -v "${pair%%:*}" >/dev/null || engines+=("${pair#*:}")
  done
  dpkg -s busybox-static >/dev/null 2>&1 || engines+=(busybox-static)
  if [ ${#engines[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    log "installing ${engines[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${engines[@]}" >/dev/null
  fi
  bash scripts/setup-vscode-test.sh
fi
