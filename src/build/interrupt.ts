// Ctrl-C / SIGTERM during a build: stop the running tools (their mounts live in private
// namespaces and vanish with them), then let the normal error path delete temp dirs. A second
// signal while cleaning up is ignored, so cleanup always finishes.
import { AtomisoError } from "../errors.js";
import { stopAllChildren } from "../tools/exec.js";
import { stopSpawnedChildren } from "../tools/spawn.js";

let interrupted: NodeJS.Signals | undefined;

export function wasInterrupted(): NodeJS.Signals | undefined {
  return interrupted;
}

export function interruptedError(signal: NodeJS.Signals): AtomisoError {
  return new AtomisoError(
    "interrupted",
    `build interrupted by ${signal}; running tools were stopped, temp files removed and nothing is left mounted`,
    "run the same command again: finished stages are reused from the cache",
    signal === "SIGINT" ? 130 : 143,
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
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const result = await fn();
    if (interrupted) throw interruptedError(interrupted);
    return result;
  } catch (err) {
    if (interrupted) throw interruptedError(interrupted);
    throw err;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
