// The chroot the deploy backends run in when they are exercised on this host (the ostree-deploy
// tools test, the bench's install job): the image's own tree as the tools root, the target's
// root and /boot mounted below /run/target, the payload, the deploy scripts and an output
// directory bound in. Run it under unshare --mount --propagation private
// (inPrivateMountNamespace): every mount is undone in reverse order by the trap, and the
// namespace drops whatever is left even on SIGKILL.
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";

const HARNESS = `#!/bin/bash
# usage: harness TOOLS_ROOT ROOT_DEV BOOT_DEV|- LAYOUT SCRIPTS OUT rw|ro -- COMMAND...
set -euo pipefail
tools=$1 rootdev=$2 bootdev=$3 layout=$4 scripts=$5 out=$6 mode=$7
shift 7
[ "\${1:-}" = -- ] && shift
if [ "$(readlink /proc/self/ns/mnt)" = "$(readlink /proc/1/ns/mnt)" ]; then
  echo "harness: not in a private mount namespace" >&2
  exit 1
fi
mounted=()
cleanup() {
  local i
  for ((i = \${#mounted[@]} - 1; i >= 0; i--)); do
    umount --lazy --recursive "\${mounted[i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mnt() { # mnt TARGET mount-args...
  local target=$1
  shift
  mount "$@" "$target"
  mounted+=("$target")
}
# / of the chroot must be a mount point (unshare --propagation inside it needs one), and
# nothing may be written into the cached tools root.
mnt "$tools" --bind "$tools"
mnt "$tools/run" -t tmpfs -o mode=0755 tmpfs
mnt "$tools/tmp" -t tmpfs -o mode=1777 tmpfs
mnt "$tools/var/tmp" -t tmpfs -o mode=1777 tmpfs
mnt "$tools/var/log" -t tmpfs -o mode=0755 tmpfs
mkdir -p "$tools/run/target" "$tools/run/payload" "$tools/run/scripts" "$tools/run/out"
mnt "$tools/run/target" -o "$mode" "$rootdev"
# BOOT_DEV "-": no separate /boot (one partition, as manual partitioning may leave it).
if [ "$bootdev" != - ]; then
  [ "$mode" = ro ] || mkdir -p "$tools/run/target/boot"
  mnt "$tools/run/target/boot" -o "$mode" "$bootdev"
  [ "$mode" = ro ] || mkdir -p "$tools/run/target/boot/efi"
fi
mnt "$tools/run/payload" --bind -o ro "$layout"
mnt "$tools/run/scripts" --bind -o ro "$scripts"
mnt "$tools/run/out" --bind "$out"
mnt "$tools/dev" --rbind /dev
mnt "$tools/proc" -t proc proc
mnt "$tools/sys" --rbind /sys
# zstd layers need zstd, which the live system has; an image may not: the host's, on a tmpfs.
if [ ! -e "$tools/usr/bin/zstd" ]; then
  mnt "$tools/usr/local/bin" -t tmpfs -o mode=0755 tmpfs
  cp /usr/bin/zstd "$tools/usr/local/bin/zstd"
fi
chroot "$tools" "$@"
`;

/** Writes the harness into `dir` as an executable script; returns its path. */
export async function writeDeployHarness(dir: string): Promise<string> {
  const path = join(dir, "deploy-harness");
  await writeFile(path, HARNESS);
  await chmod(path, 0o755);
  return path;
}
