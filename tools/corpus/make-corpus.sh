#!/usr/bin/env bash
# Builds a real-world layer corpus for the interop tests and the benchmarks: a Debian bookworm
# root filesystem (base/) and a child layer (upper/) made from it the way an image build would:
# packages added, documentation deleted, files edited and re-permissioned.
#   tools/corpus/make-corpus.sh [DIR]     (default /tmp/gd-corpus; about 650 MB, ~1 min)
# Afterwards DIR holds base/, upper/ and base.tar (the whole of base/); the benchmark makes the
# layer diff itself. Needs root and Debian's package mirror (debootstrap, apt-get download).
# Re-running finishes what an interrupted run left (each part is made once).
set -euo pipefail
dir=${1:-/tmp/gd-corpus}
mkdir -p "$dir"
cd "$dir"
if ! command -v debootstrap >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
if [ ! -e base/etc/os-release ]; then
  rm -rf base
  debootstrap --variant=minbase bookworm base >debootstrap.log 2>&1 || {
    tail -n 20 debootstrap.log >&2
    exit 1
  }
  rm -rf base/var/cache/apt/archives/*.deb base/proc/* base/sys/* base/dev/*
fi
if [ ! -e upper/etc/os-release ]; then
  debs=(python3.11-minimal libpython3.11-minimal libpython3.11-stdlib perl-modules-5.36)
  rm -rf upper upper.tmp debs && mkdir debs
  # apt-get download needs package lists (a fresh machine may have none yet)
  (cd debs && apt-get download -qq "${debs[@]}" >/dev/null 2>&1) ||
    (apt-get update -qq && cd debs && apt-get download -qq "${debs[@]}" >/dev/null)
  [ "$(ls debs/*.deb | wc -l)" = "${#debs[@]}" ] || { echo "make-corpus: apt-get download failed" >&2; exit 1; }
  cp -a base upper.tmp
  for d in debs/*.deb; do dpkg -x "$d" upper.tmp; done
  rm -rf upper.tmp/usr/share/doc upper.tmp/usr/share/man upper.tmp/var/cache/apt
  echo "welcome" >>upper.tmp/etc/motd
  chmod 600 upper.tmp/etc/hostname
  mkdir -p upper.tmp/var/lib/app && printf 'state\n' >upper.tmp/var/lib/app/state
  ln -sf /usr/bin/python3.11 upper.tmp/usr/local/bin/python
  mv upper.tmp upper
fi
if [ ! -e base.tar ]; then
  tar --numeric-owner --xattrs -cf base.tar.tmp -C base .
  mv base.tar.tmp base.tar
fi
echo "corpus: $dir  base=$(find base | wc -l) entries, upper=$(find upper | wc -l) entries"
