// Runs a command in private mount and PID namespaces: every mount made inside it (binds of
// /dev, /proc, /sys, overlays) disappears when the command ends, and none of them can leak into
// the host's mount table. The command is the namespace's init: when it dies, the kernel kills
// every process left in the namespace (mmdebstrap's apt and dpkg, maintainer scripts, daemons
// a hook started), and unshare gives it SIGKILL when unshare itself dies, which the parent-death
// signal of exec.ts guarantees when atomiso dies, even by SIGKILL. So no process outlives the
// build and no namespace keeps a mount alive.
export function inPrivateMountNamespace(argv: readonly string[]): string[] {
  return [
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "--pid",
    "--fork",
    "--kill-child=SIGKILL",
    "--",
    ...argv,
  ];
}
