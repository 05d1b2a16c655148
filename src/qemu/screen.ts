// The guest's screen: screenshots OCR'd until a page shows (waitForScreen), and clicks at a
// point through the USB tablet (clickAt).
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { AtomisoError } from "../errors.js";
import { checkScreenText, describePattern, type OcrOptions, ocr, type TextPattern } from "./ocr.js";
import type { QmpClient } from "./qmp.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ScreenWaitOptions {
  /** The page's name: its screenshot is kept as page-<name>.png, the OCR text as .txt. */
  name: string;
  /** Every pattern must be on the screen ... */
  expect?: readonly TextPattern[];
  /** ... and none of these. */
  reject?: readonly TextPattern[];
  /** Default 60 s. */
  timeoutMs?: number;
  /** Time between screenshots (default 3 s, counted from the start of the previous one). */
  intervalMs?: number;
  ocr?: Omit<OcrOptions, "textFile">;
  /** Stops waiting, e.g. Guest.signal when QEMU exits. */
  signal?: AbortSignal;
  /** Called after every screenshot that did not pass. */
  onAttempt?: (attempt: number, waiting: string) => void;
}

export interface PageScreen {
  name: string;
  png: string;
  txt: string;
  /** OCR text of the screenshot that passed. */
  text: string;
  attempts: number;
  elapsedMs: number;
}

function waitingFor(missing: readonly TextPattern[], rejected: readonly TextPattern[]): string {
  return [
    ...missing.map((p) => `missing ${describePattern(p)}`),
    ...rejected.map((p) => `showing ${describePattern(p)}`),
  ].join(", ");
}

function shownText(text: string): string {
  const lines = text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => `    | ${l}`);
  return lines.join("\n") || "    (no text recognized)";
}

/**
 * Screenshots and OCRs the guest's screen until every `expect` pattern is there and no `reject`
 * pattern is. The last screenshot is kept as <runDir>/page-<name>.png (+ .txt), also when the
 * page never turned up, so a failure can be looked at.
 */
export async function waitForScreen(
  qmp: QmpClient,
  runDir: string,
  options: ScreenWaitOptions,
): Promise<PageScreen> {
  if (!/^[\w.-]+$/.test(options.name)) {
    throw new AtomisoError(
      "usage",
      `the page name ${JSON.stringify(options.name)} cannot be used in a file name`,
      "use letters, digits, '.', '-' and '_' only",
    );
  }
  const dir = resolve(runDir);
  await mkdir(dir, { recursive: true });
  const png = join(dir, `page-${options.name}.png`);
  const txt = join(dir, `page-${options.name}.txt`);
  const expect = options.expect ?? [];
  const reject = options.reject ?? [];
  const timeoutMs = options.timeoutMs ?? 60_000;
  const interval = options.intervalMs ?? 3000;
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    const roundStart = Date.now();
    await qmp.screendump(png);
    const text = await ocr(png, { ...options.ocr, textFile: txt });
    const check = checkScreenText(text, expect, reject);
    const elapsedMs = Date.now() - started;
    if (check.ok) return { name: options.name, png, txt, text, attempts: attempt, elapsedMs };
    const waiting = waitingFor(check.missing, check.rejected);
    options.onAttempt?.(attempt, waiting);
    if (options.signal?.aborted || elapsedMs + interval > timeoutMs) {
      const why = options.signal?.aborted
        ? String(options.signal.reason)
        : `${Math.round(elapsedMs / 1000)} s (${attempt} screenshots) went by`;
      throw new AtomisoError(
        "boot-failed",
        `the "${options.name}" page did not show up: ${why} (${waiting}); OCR of ${png}:\n${shownText(text)}`,
        `open ${png} to see what the guest shows; the run directory ${dir} has the serial log and every page seen so far`,
      );
    }
    await sleep(Math.max(0, interval - (Date.now() - roundStart)));
  }
}

/**
 * Moves the pointer to (x, y) of a width × height screen, clicks there and moves it to the
 * bottom left corner. Needs the guest's USB tablet (MachineSpec.tablet): QMP "abs"
 * coordinates run from 0 to 0x7fff on each axis.
 */
export async function clickAt(
  qmp: QmpClient,
  x: number,
  y: number,
  screen: { width: number; height: number },
): Promise<void> {
  const scaled = (v: number, size: number) =>
    Math.round((Math.min(Math.max(v, 0), size - 1) * 0x7fff) / (size - 1));
  const abs = (axis: "x" | "y", value: number) => ({ type: "abs", data: { axis, value } });
  const btn = (down: boolean) => ({ type: "btn", data: { down, button: "left" } });
  await qmp.execute("input-send-event", {
    events: [abs("x", scaled(x, screen.width)), abs("y", scaled(y, screen.height))],
  });
  await sleep(300);
  await qmp.execute("input-send-event", { events: [btn(true)] });
  await sleep(100);
  await qmp.execute("input-send-event", { events: [btn(false)] });
  await sleep(300);
  // Out of the way: left on the clicked word, the pointer (a themed cursor, bigger than X's
  // default) covers the text OCR reads next. The bottom left corner is the desktop.
  await qmp.execute("input-send-event", {
    events: [abs("x", 0), abs("y", scaled(screen.height - 1, screen.height))],
  });
  await sleep(200);
}
