// Reporter: timed, nested steps with optional progress. Three outputs: a tty view with a live
// progress bar, plain lines (CI logs), and JSON lines (machines).
import { appendFileSync } from "node:fs";

export interface Reporter {
  /** Runs fn as a named step; nested steps are indented and every step is timed. */
  step<T>(title: string, fn: () => Promise<T>): Promise<T>;
  info(message: string): void;
  warn(message: string): void;
  /** Progress of the current step, 0..1. */
  progress(fraction: number, label?: string): void;
  /** A line of tool output: kept in the log file, shown only when verbose. */
  detail(line: string): void;
}

export type ReporterKind = "tty" | "plain" | "json";

interface Options {
  kind: ReporterKind;
  verbose?: boolean;
  /** Every line (including tool output) is appended here too. */
  logFile?: string;
  /** Every step, info and warning line is passed here too (a build log). */
  logLine?: (line: string) => void;
  write?: (text: string) => void;
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

export function createReporter(options: Options): Reporter {
  const write = options.write ?? ((t: string) => process.stderr.write(t));
  const stack: { title: string; started: number; lastPct: number }[] = [];
  let barShown = false;

  const toFile = (line: string) => {
    if (options.logFile) appendFileSync(options.logFile, `${line}\n`);
    options.logLine?.(line);
  };
  const clearBar = () => {
    if (barShown) {
      write("\r\x1b[2K");
      barShown = false;
    }
  };
  const emit = (line: string, json: Record<string, unknown>) => {
    toFile(line);
    if (options.kind === "json") {
      write(`${JSON.stringify({ t: new Date().toISOString(), ...json })}\n`);
      return;
    }
    clearBar();
    write(`${line}\n`);
  };
  const pad = () => "  ".repeat(stack.length);

  return {
    async step<T>(title: string, fn: () => Promise<T>): Promise<T> {
      emit(`${pad()}▶ ${title}`, { event: "step-start", title, depth: stack.length });
      const frame = { title, started: Date.now(), lastPct: -1 };
      stack.push(frame);
      try {
        const result = await fn();
        stack.pop();
        const took = Date.now() - frame.started;
        emit(`${pad()}✔ ${title} (${seconds(took)})`, { event: "step-done", title, ms: took });
        return result;
      } catch (err) {
        stack.pop();
        const took = Date.now() - frame.started;
        emit(`${pad()}✘ ${title} (${seconds(took)})`, { event: "step-failed", title, ms: took });
        throw err;
      }
    },
    info(message) {
      emit(`${pad()}${message}`, { event: "info", message });
    },
    warn(message) {
      emit(`${pad()}warning: ${message}`, { event: "warn", message });
    },
    progress(fraction, label) {
      const frame = stack.at(-1);
      if (!frame) return;
      const pct = Math.max(0, Math.min(100, Math.floor(fraction * 100)));
      if (options.kind === "tty") {
        const width = 30;
        const filled = Math.round((pct / 100) * width);
        write(
          `\r\x1b[2K${pad()}[${"#".repeat(filled)}${".".repeat(width - filled)}] ${pct}% ${label ?? ""}`,
        );
        barShown = true;
        return;
      }
      // Plain and JSON: one line per 10 %, so CI logs stay short.
      const decile = Math.floor(pct / 10) * 10;
      if (decile <= frame.lastPct) return;
      frame.lastPct = decile;
      emit(`${pad()}… ${decile}%${label ? ` ${label}` : ""}`, {
        event: "progress",
        pct: decile,
        label,
      });
    },
    detail(line) {
      // Tool output reaches a build log through the command log (with the command it came from).
      if (options.logFile) appendFileSync(options.logFile, `${pad()}  ${line}\n`);
      if (options.verbose) emit(`${pad()}  ${line}`, { event: "detail", line });
    },
  };
}

/** A reporter that discards everything (tests, library use). */
export const silentReporter: Reporter = {
  step: (_t, fn) => fn(),
  info: () => {},
  warn: () => {},
  progress: () => {},
  detail: () => {},
};
