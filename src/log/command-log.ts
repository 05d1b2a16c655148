// Where the commands atomiso runs are recorded while a build log is open: each command line,
// every line it prints (whether or not the caller looks at its output) and how it ended. The
// exec wrapper reports here; `atomiso build` points the sink at the log beside the ISO.

type Sink = (line: string) => void;

let sink: Sink | undefined;
let nextId = 1;

/** Starts (or, with undefined, stops) recording commands. */
export function setCommandSink(next: Sink | undefined): void {
  sink = next;
}

/** Records a command about to start; returns its number, or undefined when nothing records. */
export function commandStarted(commandLine: string): number | undefined {
  if (!sink) return undefined;
  const id = nextId++;
  sink(`[cmd ${id}] $ ${commandLine}`);
  return id;
}

export function commandOutput(
  id: number | undefined,
  stream: "stdout" | "stderr",
  line: string,
): void {
  if (id === undefined || !sink) return;
  sink(`[cmd ${id}] ${stream === "stderr" ? "!" : "|"} ${line}`);
}

export function commandEnded(id: number | undefined, outcome: string, ms: number): void {
  if (id === undefined || !sink) return;
  sink(`[cmd ${id}] ${outcome} after ${(ms / 1000).toFixed(1)}s`);
}
