// Starts a long-running process without awaiting it (e.g. QEMU), following the conventions of
// exec.ts: argv arrays only, never shell strings; output lines go to an optional callback and
// log file. Children are tracked so they can be stopped on interrupt, any still running are
// SIGKILLed when this process exits, and the kernel SIGKILLs them if it dies without running
// any handler (lifetime.ts), so a VM never outlives the command that started it.
import { createWriteStream, type WriteStream } from "node:fs";
import { execa, type ResultPromise } from "execa";
import { AtomisoError } from "../errors.js";
import { libexecDir } from "../paths.js";
import { diesWithParent, missingUnderSetpriv } from "./lifetime.js";
import { quoteArgv } from "./shell-quote.js";

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Called for every output line (stdout and stderr). */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** stdout and stderr are appended here as they arrive. */
  logFile?: string;
  /** Own process group (default true), so a terminal Ctrl-C reaches only us. */
  detached?: boolean;
}

export interface ExitInfo {
  exitCode: number | undefined;
  signal: string | undefined;
  /** The program could not be started at all (e.g. not installed). */
  startError: string | undefined;
}

export interface SpawnedProcess {
  readonly argv: readonly string[];
  readonly pid: number | undefined;
  /** Resolves (never rejects) when the process has ended. */
  readonly exited: Promise<ExitInfo>;
  /** Undefined while running. */
  readonly exitInfo: ExitInfo | undefined;
  /** Sends a signal to the process (and its group when detached). */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. */
  stop(graceMs?: number): Promise<ExitInfo>;
}

const spawned = new Set<SpawnedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous; process.kill is.
  process.on("exit", () => {
    for (const child of spawned) child.kill("SIGKILL");
  });
}

function signalPid(pid: number | undefined, signal: NodeJS.Signals, group: boolean): void {
  if (pid === undefined) return;
  if (group) {
    try {
      process.kill(-pid, signal);
      return;
    } catch {
      // not a group leader (or already gone): fall back to the process itself
    }
  }
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Describes how a process ended, e.g. "exit status 1" or "killed by SIGTERM". */
export function describeExit(info: ExitInfo): string {
  if (info.startError) return `could not start: ${info.startError}`;
  if (info.signal) return `killed by ${info.signal}`;
  return `exit status ${info.exitCode}`;
}

export function spawnProcess(argv: readonly string[], options: SpawnOptions = {}): SpawnedProcess {
  const [file] = argv;
  if (file === undefined) throw new AtomisoError("usage", "spawnProcess() needs a non-empty argv");
  installExitHook();
  const detached = options.detached ?? true;
  const [command, ...commandArgs] = diesWithParent(argv);
  const child: ResultPromise = execa(command as string, commandArgs, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: true,
    reject: false,
    buffer: false,
    detached,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });

  let log: WriteStream | undefined;
  if (options.logFile) log = createWriteStream(options.logFile, { flags: "a" });
  let stderrTail = "";
  const attach = (stream: NodeJS.ReadableStream | null | undefined, name: "stdout" | "stderr") => {
    if (!stream) return;
    let rest = "";
    stream.on("data", (chunk: Buffer | string) => {
      log?.write(chunk);
      if (name === "stderr") stderrTail = (stderrTail + chunk.toString()).slice(-4096);
      if (!options.onLine) return;
      rest += chunk.toString();
      const parts = rest.split(/\r\n|\n|\r/);
      rest = parts.pop() ?? "";
      for (const p of parts) options.onLine(p, name);
    });
    stream.on("end", () => {
      if (rest && options.onLine) options.onLine(rest, name);
      rest = "";
    });
  };
  attach(child.stdout, "stdout");
  attach(child.stderr, "stderr");

  let exitInfo: ExitInfo | undefined;
  // `self` is assigned below, before the child can possibly have exited.
  let self!: SpawnedProcess;
  const exited = (async (): Promise<ExitInfo> => {
    const result = await child;
    const notFound = result.code === "ENOENT" || /ENOENT/.test(String(result.message ?? ""));
    const toolMissing = missingUnderSetpriv(result.exitCode, stderrTail);
    const startError = toolMissing
      ? `"${file}" is not installed or not on PATH`
      : child.pid === undefined || notFound
        ? notFound
          ? `"${command}" is not installed or not on PATH`
          : String(result.message ?? "unknown error")
        : undefined;
    exitInfo = {
      exitCode: toolMissing ? undefined : result.exitCode,
      signal: result.signal ?? undefined,
      startError,
    };
    spawned.delete(self);
    await new Promise<void>((resolve) => (log ? log.end(resolve) : resolve()));
    return exitInfo;
  })();
  self = {
    argv: [...argv],
    pid: child.pid,
    exited,
    get exitInfo() {
      return exitInfo;
    },
    kill(signal: NodeJS.Signals = "SIGTERM") {
      if (exitInfo) return;
      signalPid(child.pid, signal, detached);
    },
    async stop(graceMs = 5000) {
      if (exitInfo) return exitInfo;
      self.kill("SIGTERM");
      const timer = setTimeout(() => self.kill("SIGKILL"), graceMs);
      try {
        return await self.exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  spawned.add(self);
  return self;
}

/** Stops every process started by spawnProcess (SIGTERM, then SIGKILL after graceMs). */
export async function stopSpawnedChildren(graceMs = 5000): Promise<void> {
  await Promise.all([...spawned].map((child) => child.stop(graceMs)));
}

/** The pasteable command line of a spawned process, for logs and error messages. */
export function commandLine(proc: SpawnedProcess): string {
  return quoteArgv(proc.argv);
}

export interface Watchdog {
  /** Tells the watchdog the undo was done here; resolves once it has exited without acting. */
  disarm(): Promise<void>;
}

/**
 * Arranges for `undo` to run once this process is gone without having disarmed the watchdog,
 * however it ends (SIGKILL and a closed terminal included): libexec/when-parent-exits waits on a
 * pipe from us and runs `undo` at end-of-file. The one process atomiso starts that outlives it,
 * on purpose and only to undo what atomiso did (e.g. unmount an image); it has its own session,
 * so a terminal's SIGINT or SIGHUP does not reach it.
 */
export function armWatchdog(undo: readonly string[]): Watchdog {
  const child = execa(`${libexecDir}/when-parent-exits`, [...undo], {
    detached: true,
    reject: false,
    buffer: false,
    stdin: "pipe",
    stdout: "ignore",
    stderr: "ignore",
  });
  return {
    async disarm() {
      child.stdin?.end("done\n");
      await child;
    },
  };
}
