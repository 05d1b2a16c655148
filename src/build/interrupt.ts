// Ctrl-C, SIGTERM or SIGHUP (a closed terminal or ssh session) during a build: stop the running
// tools (their mounts live in private namespaces and vanish with them), then let the normal
// error path delete temp dirs. A second signal while cleaning up is ignored, so cleanup always
// finishes. SIGKILL cannot be handled: then the kernel kills the tools (tools/lifetime.ts) and
// the next build removes the temp dirs (cache/store.ts).
import { AtomisoError } from "../errors.js";
import { stopAllChildren } from "../tools/exec.js";
import { stopSpawnedChildren } from "../tools/spawn.js";

let interrupted: NodeJS.Signals | undefined;

/** The signals a build handles, with their numbers (exit status 128 + number, as shells do). */
const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGTERM: 15,
};
const HANDLED = Object.keys(SIGNAL_NUMBERS) as NodeJS.Signals[];

export function wasInterrupted(): NodeJS.Signals | undefined {
  return interrupted;
}

export function interruptedError(signal: NodeJS.Signals): AtomisoError {
  return new AtomisoError(
    "interrupted",
    `build interrupted by ${signal}; running tools were stopped, temp files removed and nothing is left mounted`,
    "run the same command again: finished stages are reused from the cache",
    128 + (SIGNAL_NUMBERS[signal] ?? 15),
  );
}

/** Installs the handlers for the duration of fn. */
export async function withInterruptHandling<T>(fn: () => Promise<T>): Promise<T> {
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = signal;
    void stopAllChildren();
    void stopSpawnedChildren();
  };
  for (const signal of HANDLED) process.on(signal, onSignal);
  try {
    const result = await fn();
    if (interrupted) throw interruptedError(interrupted);
    return result;
  } catch (err) {
    if (interrupted) throw interruptedError(interrupted);
    throw err;
  } finally {
    for (const signal of HANDLED) process.off(signal, onSignal);
  }
}
