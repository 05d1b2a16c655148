// Watches the guest's serial log (a file QEMU appends to): reads it incrementally, strips
// terminal escape sequences, and waits for a line matching a pattern.
import { open } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import { AtomisoError } from "../errors.js";

export interface WaitForOptions {
  /** Give up after this long (default 15 min). */
  timeoutMs?: number;
  /** How often the file is read (default 500 ms). */
  pollMs?: number;
  /** Stops waiting (e.g. QEMU exited); the abort reason goes into the error message. */
  signal?: AbortSignal;
  /** Only match text that arrived at or after this offset in text() (default 0: everything). */
  since?: number;
  /** Called after every poll, e.g. for progress. */
  onPoll?: (elapsedMs: number) => void;
  /** Overrides the hint of the error thrown on timeout or abort. */
  hint?: string;
}

export interface SerialMatch {
  /** The regex match against the cleaned serial text. */
  match: RegExpExecArray;
  /** The whole (cleaned) line the match starts on. */
  line: string;
  /** When it was seen, relative to the start of waitFor. */
  elapsedMs: number;
}

// CSI (ESC [ ... final), OSC (ESC ] ... BEL/ST), charset selection, and other two-byte escapes.
const ANSI =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal control sequences
  /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78cDEHM]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: dropping control characters
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

/** Removes terminal escape sequences, carriage returns and other control characters. */
export function cleanSerialText(raw: string): string {
  return raw.replace(ANSI, "").replace(CONTROL, "");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The line a Linux kernel prints when it stops for good. Nothing follows it (the kernels these
 * guests boot wait forever after a panic), so a wait for anything else fails at once.
 */
export const KERNEL_PANIC = /Kernel panic - not syncing\b.*/;

function minutes(ms: number): string {
  return ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`;
}

export class SerialLog {
  readonly path: string;
  private offset = 0;
  private readonly decoder = new StringDecoder("utf8");
  /** Raw text after the last newline, not yet cleaned (an escape sequence may be incomplete). */
  private pendingRaw = "";
  private cleaned = "";

  constructor(path: string) {
    this.path = path;
  }

  /** The read in progress: polls are serialised so that two never read the same bytes. */
  private reading: Promise<void> = Promise.resolve();

  /**
   * Reads whatever the file has gained since the last call. A missing file counts as empty.
   * Safe to call from several concurrent waits (e.g. "installed" raced against "failed").
   */
  poll(): Promise<void> {
    const next = this.reading.then(() => this.readNew());
    this.reading = next.catch(() => {});
    return next;
  }

  private async readNew(): Promise<void> {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(this.path, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    try {
      const chunk = Buffer.alloc(1 << 20);
      for (;;) {
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        this.pendingRaw += this.decoder.write(chunk.subarray(0, bytesRead));
      }
    } finally {
      await handle.close();
    }
    const nl = this.pendingRaw.lastIndexOf("\n");
    if (nl >= 0) {
      this.cleaned += cleanSerialText(this.pendingRaw.slice(0, nl + 1));
      this.pendingRaw = this.pendingRaw.slice(nl + 1);
    }
  }

  /** Cleaned text read so far, including an unfinished last line. */
  text(): string {
    return this.cleaned + cleanSerialText(this.pendingRaw);
  }

  /** The last n non-empty lines read so far. */
  lastLines(n = 40): string[] {
    return this.text()
      .split("\n")
      .filter((l) => l.trim() !== "")
      .slice(-n);
  }

  /** Polls the file until `pattern` matches, and returns the match and its line. */
  async waitFor(pattern: RegExp, options: WaitForOptions = {}): Promise<SerialMatch> {
    const found = await this.search(pattern, options, true);
    if (!found) throw new Error("unreachable: a wait that throws on timeout returned nothing");
    return found;
  }

  /** Like waitFor, but undefined when the time is up; a panicked kernel or an abort still throws. */
  waitForIfAny(pattern: RegExp, options: WaitForOptions = {}): Promise<SerialMatch | undefined> {
    return this.search(pattern, options, false);
  }

  private async search(
    pattern: RegExp,
    options: WaitForOptions,
    throwOnTimeout: boolean,
  ): Promise<SerialMatch | undefined> {
    const timeoutMs = options.timeoutMs ?? 15 * 60_000;
    const pollMs = options.pollMs ?? 500;
    const since = options.since ?? 0;
    // A private copy without g/y, so lastIndex state can never skip a match.
    const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ""));
    const started = Date.now();
    for (;;) {
      await this.poll();
      const text = this.text();
      const searched = text.slice(since);
      const match = re.exec(searched);
      const elapsedMs = Date.now() - started;
      if (match) {
        const at = since + match.index;
        const lineStart = text.lastIndexOf("\n", at - 1) + 1;
        const lineEnd = text.indexOf("\n", at);
        const line = text.slice(lineStart, lineEnd < 0 ? undefined : lineEnd).trim();
        return { match, line, elapsedMs };
      }
      options.onPoll?.(elapsedMs);
      const panic = KERNEL_PANIC.exec(searched);
      if (panic) {
        // The first report of what went wrong (the panic line only says that it was fatal).
        const oops = /^.*\b(?:Oops|BUG|general protection fault)\b.*$/m.exec(searched);
        throw this.failure(
          `the guest's kernel panicked ("${panic[0].trim()}"${oops ? ` after "${oops[0].trim()}"` : ""}) before the serial console showed ${re}`,
          options.hint ??
            "the kernel's report is in the lines above (Oops, RIP, call trace); waiting longer does not help. An \"Oops: int3\" in a TCG guest with 2 vCPUs, with nothing else wrong, is QEMU's multi-threaded TCG running code the other vCPU was patching (docs/live-system.md, Boot): boot again",
        );
      }
      if (options.signal?.aborted) {
        throw this.failure(
          `${String(options.signal.reason)} before the serial console showed ${re}`,
          options.hint,
        );
      }
      if (elapsedMs >= timeoutMs) {
        if (!throwOnTimeout) return undefined;
        throw this.failure(
          `the serial console did not show ${re} within ${minutes(timeoutMs)}`,
          options.hint,
        );
      }
      await sleep(Math.min(pollMs, Math.max(0, timeoutMs - elapsedMs)));
    }
  }

  private failure(what: string, hint: string | undefined): AtomisoError {
    const lines = this.lastLines(40);
    const tail = lines.length
      ? lines.map((l) => `    | ${l}`).join("\n")
      : "    (the serial log is empty)";
    return new AtomisoError(
      "boot-failed",
      `${what} (${this.path}); last ${lines.length} lines:\n${tail}`,
      hint ??
        "look at the last lines above and the screenshots next to the serial log; under TCG a full boot can take several minutes, so raise the timeout if the guest was still progressing",
    );
  }
}
