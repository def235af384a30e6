#!/usr/bin/env bash
# tools/vm/selftest.sh: check the test VM end to end.
#
# On the host (as root): tools/vm/selftest.sh
#   boots the VM a few times through tools/vm/run and checks what only the
#   host can see: exit codes (incl. the timeout's 124), stdout/stderr kept
#   apart and complete, argv passed unchanged, repo writes (and owners)
#   reaching the host, no hang when the command leaves a suspended dm device.
#   One of those boots runs this same script in the guest.
# In the guest (GRAPHDRIVER_IN_VM=1): device-mapper thin provisioning on
#   loop devices over sparse files in /tmp: pool, thin device, mkfs.ext4,
#   mount, write, thin snapshot, mount the snapshot, check, copy-on-write
#   check; the same with xfs; then node, then tears everything down.
# Prints "selftest: PASS" and exits 0 when everything works.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# ===================================================================== guest
# Global, not local: the EXIT trap runs cleanup after guest() returned.
dir= meta= data= pool=gdvm-selftest-pool
guest() {
  local sectors=$((1024 * 1024 * 1024 / 512))
  dir=$(mktemp -d /tmp/gdvm-selftest.XXXXXX)
  mkdir -p "$dir/origin" "$dir/snap"

  # Undo whatever exists, in reverse order, also when a step fails.
  cleanup() {
    set +e
    for m in "$dir/snap" "$dir/origin"; do mountpoint -q "$m" && umount "$m"; done
    for dev in snap origin; do
      dmsetup info "gdvm-selftest-$dev" >/dev/null 2>&1 && dmsetup remove "gdvm-selftest-$dev"
    done
    dmsetup info "$pool" >/dev/null 2>&1 && dmsetup remove "$pool"
    [[ -n $meta ]] && losetup -d "$meta"
    [[ -n $data ]] && losetup -d "$data"
    [[ -n $dir ]] && rm -rf "$dir"
  }
  trap cleanup EXIT

  echo "== dmsetup version"
  dmsetup version

  echo "== thin pool on loop devices over sparse files"
  truncate -s 64M "$dir/meta"
  truncate -s 1G "$dir/data"
  meta=$(losetup -f --show "$dir/meta")
  data=$(losetup -f --show "$dir/data")
  # 64 KiB data blocks (128 sectors), low-water mark 0, no zeroing of new
  # blocks (the filesystems never read what they did not write).
  dmsetup create "$pool" --table "0 $sectors thin-pool $meta $data 128 0 1 skip_block_zeroing"
  dmsetup status "$pool"

  local id=0 fs
  for fs in ext4 xfs; do
    echo "== $fs on a thin device, thin snapshot of it"
    local origin_id=$id snap_id=$((id + 1))
    id=$((id + 2))
    dmsetup message "$pool" 0 "create_thin $origin_id"
    dmsetup create gdvm-selftest-origin --table "0 $sectors thin /dev/mapper/$pool $origin_id"
    if [[ $fs == ext4 ]]; then
      mkfs.ext4 -q /dev/mapper/gdvm-selftest-origin
    else
      mkfs.xfs -q /dev/mapper/gdvm-selftest-origin
    fi
    mount /dev/mapper/gdvm-selftest-origin "$dir/origin"
    echo "written before the snapshot" >"$dir/origin/file"

    # Suspending the origin (which also freezes its filesystem) keeps the
    # snapshot consistent; create_snap on an active origin is unsafe.
    dmsetup suspend gdvm-selftest-origin
    dmsetup message "$pool" 0 "create_snap $snap_id $origin_id"
    dmsetup resume gdvm-selftest-origin
    dmsetup create gdvm-selftest-snap --table "0 $sectors thin /dev/mapper/$pool $snap_id"

    # The snapshot's xfs has the origin's UUID, which xfs refuses twice.
    local opts=""
    [[ $fs == xfs ]] && opts="-o nouuid"
    # shellcheck disable=SC2086
    mount $opts /dev/mapper/gdvm-selftest-snap "$dir/snap"
    [[ $(cat "$dir/snap/file") == "written before the snapshot" ]] || { echo "snapshot content wrong"; return 1; }
    echo "changed in the origin" >"$dir/origin/file"
    echo "new in the snapshot" >"$dir/snap/other"
    sync
    [[ $(cat "$dir/snap/file") == "written before the snapshot" ]] || { echo "origin write leaked into the snapshot"; return 1; }
    [[ ! -e $dir/origin/other ]] || { echo "snapshot write leaked into the origin"; return 1; }
    echo "$fs thin snapshot: OK"

    umount "$dir/snap" "$dir/origin"
    dmsetup remove gdvm-selftest-snap gdvm-selftest-origin
    dmsetup message "$pool" 0 "delete $snap_id"
    dmsetup message "$pool" 0 "delete $origin_id"
  done
  dmsetup status "$pool"

  echo "== node"
  [[ $(node -e 'process.stdout.write(String(6 * 7))') == 42 ]] || { echo "node -e failed"; return 1; }
  node -e 'console.log("node", process.version, "GRAPHDRIVER_IN_VM=" + process.env.GRAPHDRIVER_IN_VM)'

  cleanup
  trap - EXIT
  [[ -z $(dmsetup ls | grep gdvm-selftest || true) ]] || { echo "teardown left devices behind"; return 1; }
  echo "selftest: guest OK"
}

# ====================================================================== host
FAILED=0
check() { # check DESCRIPTION EXPECTED ACTUAL
  if [[ $2 == "$3" ]]; then
    echo "ok   - $1"
  else
    echo "FAIL - $1: expected [$2], got [$3]"
    FAILED=1
  fi
}

host() {
  local run="$HERE/run" out err rc start probe
  out=$(mktemp) err=$(mktemp)
  trap 'rm -f "$out" "$err"' RETURN

  echo "# the guest part (dm-thin, ext4, xfs, node)"
  rc=0
  "$run" --timeout 300 -- tools/vm/selftest.sh || rc=$?
  check "guest selftest exit code" 0 "$rc"

  echo "# exit codes, stdout and stderr"
  rc=0; "$run" --timeout 120 -- sh -c 'exit 3' >"$out" 2>"$err" || rc=$?
  check "run -- sh -c 'exit 3'" 3 "$rc"
  rc=0; "$run" --timeout 120 -- 'echo to-stdout; echo to-stderr >&2; kill -TERM $$' >"$out" 2>"$err" || rc=$?
  check "a command killed by SIGTERM" 143 "$rc"
  check "stdout" to-stdout "$(cat "$out")"
  check "stderr" to-stderr "$(cat "$err")"

  echo "# argv, environment, working directory, output integrity, repo writes"
  probe="tools/vm/.selftest-probe.$$"
  rc=0
  (cd "$HERE" && "$run" --timeout 120 -e GDVM_PROBE='x y' -- bash -c '
      printf "%s|" "$@"; echo
      echo "env=$GDVM_PROBE in_vm=$GRAPHDRIVER_IN_VM cwd=$PWD"
      head -c 3000000 /dev/urandom | base64 | tee /tmp/big | sha256sum >&2
      cat /tmp/big
      echo written-in-guest >"$0"; chown 1234:4321 "$0"' "../../$probe" 'a b' '$HOME' "it's" '') >"$out" 2>"$err" || rc=$?
  check "exit code" 0 "$rc"
  check "argv passed unchanged" "a b|\$HOME|it's||" "$(head -n1 "$out")"
  check "environment and cwd" "env=x y in_vm=1 cwd=$HERE" "$(sed -n 2p "$out")"
  check "3 MB of output complete" "$(cut -d' ' -f1 "$err")" "$(tail -n +3 "$out" | sha256sum | cut -d' ' -f1)"
  check "guest write reaches the repo on the host" written-in-guest "$(cat "$HERE/../../$probe" 2>&1)"
  check "with the owner set in the guest" 1234:4321 "$(stat -c %u:%g "$HERE/../../$probe" 2>&1)"
  rm -f "$HERE/../../$probe"

  echo "# a command leaving a mounted filesystem on a suspended dm device still returns"
  rc=0
  "$run" --timeout 120 -- bash -ec '
      cd /tmp; truncate -s 64M meta; truncate -s 256M data
      dmsetup create p --table "0 524288 thin-pool $(losetup -f --show meta) $(losetup -f --show data) 128 0"
      dmsetup message p 0 "create_thin 0"; dmsetup create t --table "0 524288 thin /dev/mapper/p 0"
      mkfs.ext4 -q /dev/mapper/t; mkdir m; mount /dev/mapper/t m; echo dirty >m/f
      dmsetup suspend t; exit 9' >"$out" 2>"$err" || rc=$?
  check "exit code (not a hang until the timeout)" 9 "$rc"

  echo "# a hung guest is killed at the bound"
  start=$SECONDS
  rc=0; "$run" --timeout 15 -- sleep 1000 >"$out" 2>"$err" || rc=$?
  check "exit code on timeout" 124 "$rc"
  check "killed within the bound (+15 s)" yes "$( ((SECONDS - start < 45)) && echo yes || echo "no, $((SECONDS - start)) s")"
  grep -q 'did not finish within 15 s' "$err" && echo "ok   - timeout message" || { echo "FAIL - timeout message: $(cat "$err")"; FAILED=1; }

  if ((FAILED)); then
    echo "selftest: FAIL"
    return 1
  fi
  echo "selftest: PASS"
}

if [[ ${GRAPHDRIVER_IN_VM:-} == 1 ]]; then
  guest
else
  host
fi
