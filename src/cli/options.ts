// Options shared by the commands, and how they become a reporter and a cache dir.
import { resolve } from "node:path";
import { createReporter, type Reporter, type ReporterKind } from "../log/reporter.js";
import { defaultCacheDir } from "../paths.js";

export interface GlobalOptions {
  config: string;
  cacheDir?: string;
  log?: ReporterKind;
  verbose?: boolean;
}

export function reporterFor(o: GlobalOptions, log?: { line: (line: string) => void }): Reporter {
  const kind: ReporterKind = o.log ?? (process.stderr.isTTY ? "tty" : "plain");
  return createReporter({
    kind,
    verbose: o.verbose ?? false,
    ...(log ? { logLine: (line: string) => log.line(line) } : {}),
  });
}

export function cacheDirFor(o: GlobalOptions): string {
  return resolve(o.cacheDir ?? defaultCacheDir());
}
