#!/usr/bin/env bash
# Builds moby-archive-bench (main.go beside this script) with Debian's Go toolchain against
# Debian's packaged moby 20.10 sources, offline: GOPATH mode (GO111MODULE=off) over
# /usr/share/gocode, where golang-github-docker-docker-dev and its dependencies put their
# sources, so nothing is fetched from a Go module proxy. The only network is apt, and only
# when golang-go or golang-github-docker-docker-dev is missing (tools/setup/install.sh
# installs both first).
#   tools/peer/build.sh [OUT_BINARY]     (default /tmp/moby-archive-bench; needs root if apt runs)
set -euo pipefail
out=${1:-/tmp/moby-archive-bench}
here=$(cd "$(dirname "$0")" && pwd)
gocode=/usr/share/gocode
if ! command -v go >/dev/null || [ ! -d "$gocode/src/github.com/docker/docker/pkg/archive" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go golang-github-docker-docker-dev >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/moby-archive-bench" "$work/cache"
cp "$here/main.go" "$work/src/moby-archive-bench/"
cd "$work/src/moby-archive-bench"
# env -i: no GOFLAGS, GOPROXY, GOROOT or GOTOOLCHAIN from the caller; a build cache of its
# own (HOME may be unset under CI); no cgo (static binary, no C compiler needed).
env -i PATH="$PATH" GO111MODULE=off GOPATH="$work:$gocode" GOCACHE="$work/cache" GOPROXY=off CGO_ENABLED=0 \
  go build -trimpath -o "$work/moby-archive-bench" .
mkdir -p "$(dirname "$out")"
mv "$work/moby-archive-bench" "$out.tmp.$$" && mv -f "$out.tmp.$$" "$out"
echo "$out"
