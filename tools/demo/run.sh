#!/usr/bin/env bash
# The main job, as a person would run it: the graphdriver CLI on the vfs driver in a local
# folder (./.graphdriver), no root needed. Builds a tiny root filesystem, stores it as a
# layer, makes a container layer on top, edits it, and shows the Docker layer diff, then
# round-trips the result through an OCI image layout.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
gd() { node "$repo/packages/cli/dist/bin.js" --root "$root" --driver vfs "$@"; }
say() { printf '\n\033[1m$ graphdriver %s\033[0m\n' "$*"; }
run() { say "$@"; gd "$@"; }

work=${DEMO_DIR:-$PWD/.graphdriver-demo}
root=${DEMO_ROOT:-$PWD/.graphdriver}
rm -rf "$work" "$root/vfs"
mkdir -p "$work/rootfs/etc" "$work/rootfs/bin" "$work/rootfs/usr/share/doc"
printf 'NAME="demo"\nVERSION_ID="1"\n' >"$work/rootfs/etc/os-release"
printf '#!/bin/sh\necho hello from a layer\n' >"$work/rootfs/bin/hello"
chmod 755 "$work/rootfs/bin/hello"
printf 'docs\n' >"$work/rootfs/usr/share/doc/README"
ln -s hello "$work/rootfs/bin/hi"
tar --numeric-owner -cf "$work/rootfs.tar" -C "$work/rootfs" .

run drivers
run create base
run apply base "$work/rootfs.tar"
run create app --parent base --rw
say mount app
dir=$(gd mount app -q)
echo "$dir"
# what a build step or a container would do
printf 'greeting=hi\n' >"$dir/etc/app.conf"
printf 'NAME="demo"\nVERSION_ID="2"\n' >"$dir/etc/os-release"
rm -rf "$dir/usr/share/doc"
run unmount app
run changes app
run size app
run diff app -o "$work/app.diff.tar"
echo "--- the layer tar, as Docker writes it (note the .wh. whiteout) ---"
tar -tvf "$work/app.diff.tar"
run ls
run info app
run status
run export app "oci:$work/oci:demo"
say import "oci:$work/oci:demo" '(into a second store)'
node "$repo/packages/cli/dist/bin.js" --root "$work/store2" --driver vfs import "oci:$work/oci:demo"
echo
echo "demo done: store in $root, files in $work"
