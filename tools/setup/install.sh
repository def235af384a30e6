#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian 12 machine (run as root).
# Idempotent; slow parts are cached under /var/cache/graphdriver so a second run takes seconds.
#   apt packages   btrfs, xfs, zfs-fuse, device-mapper tools for the VM, Go + moby sources
#                  for the reference peer, umoci/skopeo for OCI interop, GNU tar, attr, zstd,
#                  python3 (its tarfile reads and writes the tar tests' archives),
#                  docker-registry + htpasswd for registry tests, fuse-overlayfs, pigz/igzip
#   pnpm           the version pinned in package.json's packageManager
#   peer           moby-archive-bench (Docker's own layer-diff code), built from tools/peer
#   corpus         a Debian root filesystem + child layer (tools/corpus), for interop and bench
#   vm             qemu >= 8.1 (bookworm-backports) and the kernel + initramfs of the test VM (tools/vm/build)
#   openzfs        OpenZFS modules + userland for that VM (tools/vm/openzfs/build; 3-15 min fresh)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cache=/var/cache/graphdriver
mkdir -p "$cache"
step() { printf '\n== setup: %s (%ss)\n' "$1" "$SECONDS"; }

if [ "$(id -u)" != 0 ]; then
  echo "setup: run as root (installs apt packages, makes loop devices and mounts)" >&2
  exit 1
fi

step "apt packages"
pkgs=(btrfs-progs xfsprogs zfs-fuse golang-go golang-github-docker-docker-dev
  busybox-static dmsetup thin-provisioning-tools e2fsprogs cpio zstd attr tar util-linux python3
  debootstrap umoci skopeo kmod
  docker-registry apache2-utils openssl fuse-overlayfs fuse3 pigz isal containers-storage)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# zfs-fuse's package starts its daemon through init scripts that do not run here; the tests
# start and stop it themselves. On a CI machine, pools an earlier run left in the daemon's
# cache (a run killed before its teardown) must not be imported again at its next start.
if [ "${CI:-}" = true ] && ! pgrep -x zfs-fuse >/dev/null; then
  rm -f /var/lib/zfs/zpool.cache
  rm -rf "${TMPDIR:-/tmp}/graphdriver-zfs-fuse" # the test set-up's leases of that daemon
fi

# Rootless overlay2 (fuse-overlayfs) needs a /dev/fuse every user can open, as Debian's udev
# rules make it; these machines have no udev and leave it 0600. (driver-overlay's
# conformance.rootless.test.ts does the same when it runs as root.)
if [ -c /dev/fuse ] && [ "$(stat -c %a /dev/fuse)" != 666 ]; then chmod 0666 /dev/fuse; fi

step "pnpm"
want=$(node -p "require('$here/package.json').packageManager.split('@')[1]")
if [ "$(pnpm --version 2>/dev/null || true)" != "$want" ]; then
  npm install -g --silent "pnpm@$want"
fi

step "moby-archive-bench (reference peer, tools/peer)"
# Keyed by its sources and by the Go and moby packages it is built from: any change builds anew.
peer_key=$({ cat "$here/tools/peer/main.go" "$here/tools/peer/build.sh"; dpkg-query -W golang-go golang-github-docker-docker-dev; } |
  sha256sum | cut -c1-16)
if [ ! -x "$cache/peer-$peer_key/moby-archive-bench" ]; then
  bash "$here/tools/peer/build.sh" "$cache/peer-$peer_key/moby-archive-bench" >/dev/null
fi
ln -sfn "$cache/peer-$peer_key/moby-archive-bench" /usr/local/bin/moby-archive-bench

step "corpus (tools/corpus)"
# Tests and benches read it at this path; corpus.key holds the hash of the script that built it.
# A new script builds beside the old corpus (resuming an interrupted build) and is swapped in.
corpus=/var/cache/graphdriver-corpus
corpus_key=$(sha256sum <"$here/tools/corpus/make-corpus.sh" | cut -c1-16)
corpus_complete() { [ -e "$1/base.tar" ] && [ -e "$1/upper/etc/os-release" ]; }
# A complete corpus without a key predates the key: the same recipe, then outside this repository.
if corpus_complete "$corpus" && [ ! -e "$corpus/corpus.key" ]; then echo "$corpus_key" >"$corpus/corpus.key"; fi
if ! corpus_complete "$corpus" || [ "$(cat "$corpus/corpus.key")" != "$corpus_key" ]; then
  bash "$here/tools/corpus/make-corpus.sh" "$corpus.next" >/dev/null
  echo "$corpus_key" >"$corpus.next/corpus.key"
  rm -rf "$corpus.old"
  if [ -e "$corpus" ]; then mv "$corpus" "$corpus.old"; fi
  mv "$corpus.next" "$corpus"
  rm -rf "$corpus.old"
fi

if [ -x "$here/tools/vm/build" ]; then
  step "vm kit"
  "$here/tools/vm/build" >/dev/null
  step "openzfs kit for the vm"
  "$here/tools/vm/openzfs/build" --quiet >/dev/null
fi

step "done"
