// Every tool atomiso starts dies with atomiso, however atomiso ends (SIGKILL included): the
// kernel delivers the parent-death signal that `setpriv --pdeathsig KILL` sets before it execs
// the tool, so no handler of ours has to run. It reaches the direct child only; tools that fork
// trees of their own (mmdebstrap → apt → dpkg) run in a PID namespace (namespace.ts), whose
// init takes every process in it down when it dies.

/** argv that runs `argv` with SIGKILL as its parent-death signal (same pid: setpriv execs). */
export function diesWithParent(argv: readonly string[]): string[] {
  return ["setpriv", "--pdeathsig", "KILL", "--", ...argv];
}

/** setpriv's message when the tool it should exec does not exist (it exits 127 then). */
export function missingUnderSetpriv(exitCode: number | undefined, stderr: string): boolean {
  return (
    exitCode === 127 && /^setpriv: failed to execute .*: No such file or directory$/m.test(stderr)
  );
}
