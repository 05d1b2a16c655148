// The only place that spawns processes. argv arrays only, never shell strings; output lines go
// to an optional callback; a failure becomes a CommandError carrying the pasteable command,
// exit status, stderr tail and a hint. Running children are tracked so that an interrupt can
// stop them before mounts and temp dirs are cleaned up, and each one gets SIGKILL from the
// kernel if atomiso dies first (lifetime.ts).
import { execa, type ResultPromise } from "execa";
import { AtomisoError } from "../errors.js";
import { commandEnded, commandOutput, commandStarted } from "../log/command-log.js";
import { diesWithParent, missingUnderSetpriv } from "./lifetime.js";
import { quoteArgv } from "./shell-quote.js";

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  /** Kill the command after this many milliseconds. */
  timeoutMs?: number;
  /** Called for every output line (stdout and stderr), e.g. to feed a log or progress bar. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** What to tell the user when the command fails. */
  hint?: string;
  /** Exit codes that count as success (default [0]). */
  okExitCodes?: number[];
  /** Put the child in its own process group (so a terminal Ctrl-C reaches only us). */
  detached?: boolean;
  /** Open file descriptors passed to the child as fd 3, 4, … (e.g. a lock file for flock). */
  extraFds?: number[];
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  durationMs: number;
}

export class CommandError extends AtomisoError {
  readonly command: string;
  readonly status: number | undefined;
  readonly stderrTail: string;

  constructor(
    argv: readonly string[],
    status: number | undefined,
    stderr: string,
    why: string,
    hint?: string,
  ) {
    const command = quoteArgv(argv);
    const tail = stderr.trim().split("\n").slice(-15).join("\n");
    super(
      "command-failed",
      `command failed (${why}): ${command}${tail ? `\n${indent(tail)}` : ""}`,
      hint ?? "re-run the command above by hand to see its full output",
    );
    this.command = command;
    this.status = status;
    this.stderrTail = tail;
  }
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `    | ${l}`)
    .join("\n");
}

const running = new Set<ResultPromise>();

/** Sends SIGTERM to every running child (and its group), then SIGKILL after a grace period. */
export async function stopAllChildren(graceMs = 5000): Promise<void> {
  const children = [...running];
  for (const child of children) signalChild(child, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const child of running) signalChild(child, "SIGKILL");
}

function signalChild(child: ResultPromise, signal: NodeJS.Signals): void {
  const pid = child.pid;
  if (pid === undefined) return;
  try {
    // Negative pid: the whole process group of a detached child.
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

export async function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [file] = argv;
  if (file === undefined) throw new AtomisoError("usage", "run() needs a non-empty argv");
  const started = Date.now();
  const [wrapper, ...wrapped] = diesWithParent(argv);
  const child = execa(wrapper as string, wrapped, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: true,
    input: options.input,
    timeout: options.timeoutMs,
    reject: false,
    stripFinalNewline: false,
    buffer: true,
    detached: options.detached ?? true,
    maxBuffer: 256 * 1024 * 1024,
    // Extra fds are plain numbers, which execa hands to the child as they are.
    stdio: [
      options.input === undefined ? "ignore" : "pipe",
      "pipe",
      "pipe",
      ...(options.extraFds ?? []),
    ] as ["ignore" | "pipe", "pipe", "pipe"],
  });
  running.add(child);
  // The build log (when open) gets every command with all its output.
  const logId = commandStarted(quoteArgv(argv));
  if (options.onLine || logId !== undefined) {
    const onLine = options.onLine;
    for (const stream of ["stdout", "stderr"] as const) {
      splitLines(child[stream], (l) => {
        commandOutput(logId, stream, l);
        onLine?.(l, stream);
      });
    }
  }
  let result: Awaited<typeof child>;
  try {
    result = await child;
  } finally {
    running.delete(child);
  }
  commandEnded(
    logId,
    result.signal
      ? `killed by ${result.signal}`
      : result.exitCode === undefined
        ? `did not start (${result.code ?? "unknown reason"})`
        : `exit status ${result.exitCode}`,
    Date.now() - started,
  );
  const stdout = String(result.stdout ?? "");
  const stderr = String(result.stderr ?? "");
  const ok = options.okExitCodes ?? [0];
  if (result.failed && (result.exitCode === undefined || !ok.includes(result.exitCode))) {
    if (result.code === "ENOENT" || /ENOENT/.test(String(result.message))) {
      const { existsSync } = await import("node:fs");
      if (options.cwd !== undefined && !existsSync(options.cwd)) {
        throw new AtomisoError(
          "usage",
          `cannot run ${file}: its working directory ${options.cwd} does not exist`,
        );
      }
      throw new AtomisoError(
        "tool-missing",
        '"setpriv" is not installed or not on PATH (atomiso runs every tool through it, so tools die with atomiso)',
        "apt-get install util-linux   (or run `atomiso doctor`)",
      );
    }
    const why = missingUnderSetpriv(result.exitCode, stderr)
      ? "not installed"
      : result.timedOut
        ? `timed out after ${options.timeoutMs} ms`
        : result.signal
          ? `killed by ${result.signal}`
          : `exit status ${result.exitCode}`;
    if (why === "not installed") {
      throw new AtomisoError(
        "tool-missing",
        `"${file}" is not installed or not on PATH`,
        "run `atomiso doctor` to see which host packages are missing and how to install them",
      );
    }
    throw new CommandError(argv, result.exitCode, stderr || stdout, why, options.hint);
  }
  return { stdout, stderr, exitCode: result.exitCode ?? 0, durationMs: Date.now() - started };
}

function splitLines(
  stream: NodeJS.ReadableStream | null | undefined,
  cb: (line: string) => void,
): void {
  if (!stream) return;
  let rest = "";
  stream.on("data", (chunk: Buffer | string) => {
    rest += chunk.toString();
    const parts = rest.split(/\r\n|\n|\r/);
    rest = parts.pop() ?? "";
    for (const p of parts) cb(p);
  });
  stream.on("end", () => {
    if (rest) cb(rest);
    rest = "";
  });
}

/** True when `file` can be found on PATH. */
export async function hasCommand(file: string): Promise<boolean> {
  const { access } = await import("node:fs/promises");
  const { constants } = await import("node:fs");
  for (const dir of (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    try {
      await access(`${dir}/${file}`, constants.X_OK);
      return true;
    } catch {
      // keep looking
    }
  }
  return false;
}
