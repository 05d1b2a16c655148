// Runs a command in a private mount namespace: every mount made inside it (binds of /dev,
// /proc, /sys, overlays) disappears when the command ends, even if atomiso is killed with
// SIGKILL, and none of them can leak into the host's mount table.
export function inPrivateMountNamespace(argv: readonly string[]): string[] {
  return [
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "--fork",
    "--kill-child=SIGTERM",
    "--",
    ...argv,
  ];
}
