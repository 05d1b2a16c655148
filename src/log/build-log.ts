// The full log of one build, written beside the ISO as `<iso>.log`: the steps with their
// timings, every command with all of its output, and the error if the build failed. Written
// under a temp name and renamed into place when the build ends, so `<iso>.log` is always a
// complete log of one build.
import { appendFileSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { setCommandSink } from "./command-log.js";

export class BuildLog {
  readonly path: string;
  private readonly partial: string;
  private readonly started = Date.now();
  private open = true;

  /** Starts the log for an ISO written to `iso`; also records every command run meanwhile. */
  constructor(iso: string, header: string[]) {
    this.path = `${iso}.log`;
    this.partial = `${this.path}.partial-${process.pid}`;
    mkdirSync(dirname(this.path), { recursive: true });
    writeFileSync(this.partial, "");
    for (const line of header) this.write(line);
    setCommandSink((line) => this.write(line));
  }

  /** Appends one line, prefixed with the seconds since the build started. */
  write(line: string): void {
    if (!this.open) return;
    const at = `${((Date.now() - this.started) / 1000).toFixed(1)}s`.padStart(8);
    const text = line
      .split("\n")
      .map((l, i) => (i === 0 ? `${at} ${l}` : `${" ".repeat(at.length)} ${l}`))
      .join("\n");
    // Synchronous appends keep lines whole and in order between tools and steps.
    appendFileSync(this.partial, `${text}\n`);
  }

  /** Writes the last line, stops recording commands and moves the log into place. */
  close(outcome: string): string {
    if (!this.open) return this.path;
    this.write(outcome);
    this.open = false;
    setCommandSink(undefined);
    renameSync(this.partial, this.path);
    return this.path;
  }
}
