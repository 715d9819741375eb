#!/usr/bin/env bash
# Installs nsxd for good, from a built checkout or the installed extension's
# folder (~/.vscode/extensions/nsx.namespace-explorer-VERSION/):
#   sudo bash helper/daemon/systemd/install.sh              install, or upgrade in place
#   sudo bash helper/daemon/systemd/install.sh --uninstall  remove what it installed
# Copies nsx, nsxd and their helpers to /usr/local/lib/nsx (with this script,
# so that --uninstall is there after the extension is gone), links nsx and
# nsxd into /usr/local/bin, creates the nsx group (empty) and an empty policy
# /etc/nsx/nsxd.json. Under systemd it also enables nsxd.socket (socket
# activation); without systemd it says how to start nsxd instead.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/../../.." && pwd)"
lib=/usr/local/lib/nsx
units=/etc/systemd/system
policy=/etc/nsx/nsxd.json
# What nsxd and nsx need at run time; the extension's own bundle is not among them.
programs=(nsx nsx.js nsxd.js nsx-exec nsx-session nsx-capture nsx-net nsx-connect nsx-files libnsxscan.so)
# The policy as first written: --uninstall removes it only if it is still this.
default_policy='{
  "admins": [],
  "rootShells": []
}'

say() { echo "$*"; }
fail() { echo "$*" >&2; exit 1; }

# What sd_booted() checks: this directory exists only while systemd is PID 1.
if [ -d /run/systemd/system ]; then systemd=1; else systemd=0; fi

[ "$(id -u)" = 0 ] || fail "install.sh must run as root: sudo bash $0 ${*}"

# A link is ours only if it points into $lib: an npm -g install of nsx, say, is left alone.
remove_link() {
  if [ -L "$1" ] && [[ "$(readlink "$1")" == "$lib/"* ]]; then
    rm -f "$1"
    say "removed $1"
  elif [ -e "$1" ] || [ -L "$1" ]; then
    say "kept $1: it is not a link into $lib"
  fi
}

# Pids whose command line matches an extended regex, as pgrep -f finds them
# (without procps, which minimal systems lack).
pids_matching() {
  local dir args
  for dir in /proc/[0-9]*; do
    mapfile -d '' args 2>/dev/null < "$dir/cmdline" || continue
    [[ "${args[*]}" =~ $1 ]] && echo "${dir#/proc/}"
  done
  return 0
}

uninstall() {
  # Before anything is removed: an nsxd started by hand or by another init
  # system would go on running deleted files, and may be started again.
  local main=0 by_hand=()
  [ "$systemd" = 0 ] || main="$(systemctl show --property MainPID --value nsxd.service 2>/dev/null || echo 0)"
  for pid in $(pids_matching "^([^ ]*env )?[^ ]*node ($lib/dist/nsxd\.js|/usr/local/bin/nsxd)( |$)"); do
    [ "$pid" = "$main" ] || by_hand+=("$pid")
  done
  if [ ${#by_hand[@]} -gt 0 ]; then
    fail "nsxd is running outside systemd (pid ${by_hand[*]}): stop it where it was started (and take it out of your init system), then run install.sh --uninstall again."
  fi
  if [ "$systemd" = 1 ]; then
    # The socket first, so that nothing starts the service again.
    for unit in nsxd.socket nsxd.service; do
      if [ -e "$units/$unit" ]; then systemctl disable --now --quiet "$unit" || true; fi
    done
  fi
  # nsxd is gone, so no one could attach to a session again: end them now
  # (each supervisor kills its session's processes and removes its cgroup)
  # rather than after the orphan timeout.
  mapfile -t supervisors < <(pids_matching "^$lib/dist/nsx-session ")
  if [ ${#supervisors[@]} -gt 0 ]; then
    kill -TERM "${supervisors[@]}" 2>/dev/null || true
    say "ended the ${#supervisors[@]} terminal session(s) still open"
  fi
  if [ "$systemd" = 1 ]; then
    removed=0
    for unit in nsxd.socket nsxd.service; do
      if [ -e "$units/$unit" ]; then rm -f "$units/$unit"; removed=1; say "removed $units/$unit"; fi
    done
    [ "$removed" = 0 ] || { systemctl daemon-reload; systemctl reset-failed nsxd.service nsxd.socket 2>/dev/null || true; }
  elif [ -e "$units/nsxd.service" ] || [ -e "$units/nsxd.socket" ]; then
    rm -f "$units/nsxd.service" "$units/nsxd.socket"
    say "removed the systemd units from $units"
  fi
  remove_link /usr/local/bin/nsx
  remove_link /usr/local/bin/nsxd
  made_group=0
  [ ! -e "$lib/made-nsx-group" ] || made_group=1
  if [ -e "$lib" ]; then rm -rf "$lib"; say "removed $lib"; fi

  if [ -f "$policy" ]; then
    if [ "$(cat "$policy")" = "$default_policy" ]; then
      rm -f "$policy"
      rmdir /etc/nsx 2>/dev/null || true
      say "removed $policy (it was the empty default)"
    else
      say "kept $policy: it was changed (remove it yourself if you no longer want it)"
    fi
  fi
  if ! getent group nsx >/dev/null; then
    :
  elif [ "$made_group" = 0 ]; then
    say "kept the group nsx: install.sh did not create it"
  else
    gid="$(getent group nsx | cut -d: -f3)"
    members="$(getent group nsx | cut -d: -f4)"
    primary="$(getent passwd | awk -F: -v gid="$gid" '$4 == gid { printf "%s%s", sep, $1; sep = "," }')"
    if [ -z "$members" ] && [ -z "$primary" ]; then
      groupdel nsx
      say "removed the group nsx (it had no members)"
    else
      say "kept the group nsx: its members are ${members}${members:+${primary:+,}}${primary} (sudo groupdel nsx once you no longer want it)"
    fi
  fi
  pins=0
  [ ! -d /run/nsx/pins ] || pins="$(find /run/nsx/pins -type f | wc -l)"
  [ "$pins" = 0 ] || say "kept $pins pinned namespace(s) in /run/nsx/pins: they last until the next boot, or until you umount them"
  say "nsxd is uninstalled."
}

install_it() {
  [ "$here" != "$lib" ] || fail "this is the installed copy of install.sh, which only uninstalls: to install or upgrade, run install.sh from the extension's folder or a built checkout"
  # Everything is checked before anything changes, so a failure leaves the machine as it was.
  for f in "${programs[@]}"; do
    [ -f "$src/dist/$f" ] || fail "$src/dist/$f is missing: build first (npm run build), or run install.sh from the installed extension's folder"
  done
  compgen -G "$src/dist/koffi/*/koffi.node" >/dev/null || fail "$src/dist/koffi/ is missing: build first (npm run build)"
  command -v node >/dev/null || fail "node is not on root's PATH: install Node.js 20 or later (nsxd and nsx run on it)"
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || fail "node on root's PATH is version $(node --version): nsxd needs Node.js 20 or later"

  install -d -o root -g root -m 0755 "$lib" /etc/nsx
  # Noted, so that --uninstall never removes a group an admin (or another tool) made.
  if ! getent group nsx >/dev/null; then
    groupadd --system nsx
    touch "$lib/made-nsx-group"
    say "created the group nsx (empty: see the README before you add anyone)"
  fi
  # A new copy renamed over the old, so that a running nsxd and its sessions keep the files they have open.
  rm -rf "$lib/dist.new"
  mkdir "$lib/dist.new"
  for f in "${programs[@]}"; do cp "$src/dist/$f" "$lib/dist.new/"; done
  cp -r "$src/dist/koffi" "$lib/dist.new/"
  chmod 0755 "${programs[@]/#/$lib/dist.new/}"
  rm -rf "$lib/dist"
  mv "$lib/dist.new" "$lib/dist"
  # vsce stores README.md as readme.md and LICENSE as LICENSE.txt; the unit's Documentation= names README.md.
  for name in README.md readme.md; do
    if [ -f "$src/$name" ]; then cp "$src/$name" "$lib/README.md"; break; fi
  done
  for name in LICENSE LICENSE.txt; do
    if [ -f "$src/$name" ]; then cp "$src/$name" "$lib/LICENSE"; break; fi
  done
  cp "$here/$(basename "${BASH_SOURCE[0]}")" "$lib/install.sh.new"
  mv "$lib/install.sh.new" "$lib/install.sh"
  chown -R root:root "$lib"
  chmod -R go-w "$lib"
  ln -sfn "$lib/dist/nsx" /usr/local/bin/nsx
  ln -sfn "$lib/dist/nsxd.js" /usr/local/bin/nsxd
  [ -f "$policy" ] || printf '%s\n' "$default_policy" > "$policy"
  chmod 0644 "$policy"
  say "installed nsx and nsxd in /usr/local/bin (files in $lib, policy $policy)"

  if [ "$systemd" = 1 ]; then
    install -m 0644 "$here/nsxd.socket" "$here/nsxd.service" "$units/"
    systemctl daemon-reload
    systemctl enable --now --quiet nsxd.socket
    # An upgrade: the running nsxd takes the new files; sessions outlive the restart.
    if systemctl is-active --quiet nsxd.service; then
      systemctl restart nsxd.service
      say "restarted nsxd.service to run the new version (open terminals are kept)"
    fi
    say "nsxd.socket is listening on /run/nsx/nsxd.sock; systemd starts nsxd on the first connection."
  else
    say "This system does not run systemd, so nothing starts nsxd for you: run \`sudo nsxd\` (it listens on /run/nsx/nsxd.sock), or start /usr/local/bin/nsxd as root from the init system of your choice."
  fi
  say "Grant access (equivalent to root!) with: sudo usermod -aG nsx USER"
  say "To remove it all: sudo bash $lib/install.sh --uninstall"
}

case "${1:-}" in
  "") install_it ;;
  --uninstall) uninstall ;;
  -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) fail "unknown option $1: install.sh installs nsxd, install.sh --uninstall removes it" ;;
esac
