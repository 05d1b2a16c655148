import { mkdir, readFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { AtomisoError } from "../errors.js";
import { describeExit, type SpawnedProcess, spawnProcess } from "../tools/spawn.js";
import type { MachinePlan, MachineSpec } from "./machine.js";
import { checkScreenText, describePattern, type OcrOptions, ocr, type TextPattern } from "./ocr.js";
import { prepareMachine } from "./prepare.js";
import { QmpClient } from "./qmp.js";
import { SerialLog } from "./serial.js";
import { SerialInput } from "./serial-input.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// A running guest

export interface Guest {
  runDir: string;
  plan: MachinePlan;
  qmp: QmpClient;
  serial: SerialLog;
  proc: SpawnedProcess;
  qemuLog: string;
  /** Aborted when QEMU exits (the reason says how). */
  signal: AbortSignal;
  /** Input to the serial console, when the guest was launched with serialInput. */
  serialInput?: SerialInput;
  /** Asks QEMU to quit, then makes sure it is gone; safe to call twice. */
  stop(): Promise<void>;
}

export type GuestSpec = Omit<
  MachineSpec,
  "runDir" | "serialLog" | "qmpSocket" | "ovmfVars" | "serialSocket"
> & {
  /** Created if missing; serial.log, qemu.log, qemu-argv.txt and the screenshots go here. */
  runDir: string;
  /** Let the caller type on the serial console (Guest.serialInput). */
  serialInput?: boolean;
  /** Each line QEMU itself prints (it also goes to qemu.log). */
  onQemuLine?: (line: string) => void;
};

/**
 * Starts QEMU (TCG) for `spec` and connects to its QMP socket; the guest keeps running until
 * stop(). Unlike bootIso, which checks a boot and stops QEMU, this hands the machine to the
 * caller, e.g. to walk an installer's pages with the keyboard.
 */
export async function launchGuest(spec: GuestSpec): Promise<Guest> {
  const runDir = resolve(spec.runDir);
  await mkdir(runDir, { recursive: true });
  const { onQemuLine, ...machine } = spec;
  const { plan, socketDir } = await prepareMachine({
    ...machine,
    iso: spec.iso === undefined ? undefined : resolve(spec.iso),
    runDir,
  });
  const qemuLog = join(runDir, "qemu.log");
  const proc = spawnProcess(plan.argv, {
    logFile: qemuLog,
    ...(onQemuLine ? { onLine: onQemuLine } : {}),
  });
  const exitCtl = new AbortController();
  void proc.exited.then((info) => exitCtl.abort(`QEMU exited (${describeExit(info)})`));

  let stopped = false;
  let qmp: QmpClient | undefined;
  let serialInput: SerialInput | undefined;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    serialInput?.close();
    if (qmp) {
      if (proc.exitInfo === undefined) await qmp.quit(3000);
      qmp.close();
    }
    await Promise.race([proc.exited, sleep(5000)]);
    await proc.stop(5000);
    if (socketDir) await rm(socketDir, { recursive: true, force: true });
  };
  try {
    qmp = await QmpClient.connect(plan.qmpSocket, { timeoutMs: 60_000, signal: exitCtl.signal });
  } catch (err) {
    await stop();
    if (!(proc.exitInfo && err instanceof AtomisoError)) throw err;
    const log = (await readFile(qemuLog, "utf8").catch(() => ""))
      .split("\n")
      .filter((l) => l.trim() !== "")
      .slice(-15)
      .map((l) => `    | ${l}`)
      .join("\n");
    throw new AtomisoError(
      "boot-failed",
      `${err.message}\n  qemu.log (${describeExit(proc.exitInfo)}):\n${log || "    (empty)"}`,
      `fix the QEMU error above; the command line is in ${join(runDir, "qemu-argv.txt")}`,
    );
  }
  if (plan.serialSocket) {
    // QEMU started paused (see MachineSpec.serialSocket): resume once it has our connection.
    try {
      serialInput = await SerialInput.connect(plan.serialSocket);
      await serialClientAttached(qmp, plan.serialSocket);
      await qmp.execute("cont");
    } catch (err) {
      await stop();
      throw err;
    }
  }
  return {
    runDir,
    plan,
    qmp,
    ...(serialInput ? { serialInput } : {}),
    serial: new SerialLog(plan.serialLog),
    proc,
    qemuLog,
    signal: exitCtl.signal,
    stop,
  };
}

/**
 * Waits until QEMU has accepted the serial socket's client: connect() returns as soon as the
 * kernel queues the connection, QEMU accepts it in its main loop later, and until then it
 * drops the guest's output (query-chardev names a waiting socket "disconnected:…").
 */
async function serialClientAttached(qmp: QmpClient, socketPath: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const devices = await qmp.execute<{ label: string; filename: string }[]>("query-chardev");
    const serial = devices.find((d) => d.label === "serial0");
    if (serial && !serial.filename.startsWith("disconnected:")) return;
    if (Date.now() > deadline) {
      throw new AtomisoError(
        "boot-failed",
        `QEMU did not accept the connection to its serial socket ${socketPath} within 30 s (query-chardev: ${serial?.filename ?? "no serial0"})`,
        "QEMU may be hung; see qemu.log in the run directory",
      );
    }
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------
// Screens

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
 * Moves the pointer to (x, y) of a width × height screen and clicks there. Needs the guest's
 * USB tablet (MachineSpec.tablet): QMP "abs" coordinates run from 0 to 0x7fff on each axis.
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
}

// ---------------------------------------------------------------------------------------------
// Calamares' debug log on the serial console

/** The prefix live-marker puts before each line of Calamares' debug log on ttyS0. */
export const CALAMARES_SERIAL_PREFIX = "calamares: ";

/** The Calamares debug log lines in a serial log (prefix removed), in order. */
export function calamaresLogLines(serialText: string): string[] {
  const lines: string[] = [];
  for (const raw of serialText.split("\n")) {
    const line = raw.replace(/\r$/, "");
    const at = line.indexOf(CALAMARES_SERIAL_PREFIX);
    // Kernel messages on the same console can glue onto the start of a line: search, don't anchor.
    if (at >= 0) lines.push(line.slice(at + CALAMARES_SERIAL_PREFIX.length));
  }
  return lines;
}

export interface CalamaresLogEntry {
  /** "hh:mm:ss" as logged (live-system local time); empty for lines outside the log format. */
  time: string;
  /** Calamares' log level: 1 error, 2 warning, 6 debug, 8 verbose; undefined for stray lines. */
  level: number | undefined;
  /** The header line and its indented continuation lines, as logged. */
  text: string;
}

// "05:35:22 [2]: Calamares::Branding::Branding(...)", then indented continuation lines.
const ENTRY_HEADER = /^(\d\d:\d\d:\d\d) \[(\d+)\]: /;

/**
 * Groups Calamares' debug log into entries. Calamares writes a header line with the time, the
 * level and the function (or "WARNING (Qt): ..." for messages Qt itself raises), followed by
 * the messages, indented. Lines that are neither (e.g. Qt's stderr before the logger is set up)
 * become entries of their own with no level.
 */
export function calamaresLogEntries(lines: readonly string[]): CalamaresLogEntry[] {
  const entries: CalamaresLogEntry[] = [];
  let current: { time: string; level: number | undefined; lines: string[] } | undefined;
  const flush = () => {
    if (current)
      entries.push({ time: current.time, level: current.level, text: current.lines.join("\n") });
    current = undefined;
  };
  for (const line of lines) {
    const header = ENTRY_HEADER.exec(line);
    if (header) {
      flush();
      current = { time: header[1] ?? "", level: Number(header[2]), lines: [line.trimEnd()] };
    } else if (/^\s/.test(line) && current) {
      current.lines.push(line.trimEnd());
    } else if (line.trim() !== "") {
      flush();
      entries.push({ time: "", level: undefined, text: line.trimEnd() });
    }
  }
  flush();
  return entries;
}

/**
 * Warnings that say nothing about our configuration, with the reason each is harmless. Every
 * pattern is specific; a warning about a file we ship, a key we set or a package we install is
 * never listed here (it is a finding to fix, e.g. "does not ship translations").
 */
export const HARMLESS_CALAMARES_WARNINGS: readonly { pattern: RegExp; why: string }[] = [
  {
    pattern: /WARNING: Filesystem "unknown" not found, using ext4/,
    why: "partition.conf's root entry says filesystem \"unknown\", the documented way to get the file system the user picks; PartUtils::canonicalFilesystemName warns while parsing it and reports the type as Unknown, which PartitionLayout replaces with the user's choice when the layout is applied",
  },
  {
    pattern: /WARNING \(Qt\): unknown file system type\s+""\s+on\s+"\/dev\/[^"]+"/,
    why: "KPMcore probing a disk without a partition table or file system (the blank target disk of a test machine, or a new disk); the installer erases it anyway",
  },
  {
    pattern: /WARNING \(Qt\): (?:begin|end)ResetModel called on BootLoaderModel\(/,
    why: "Calamares' partition module nests model resets in its boot loader list (BootLoaderModel); Qt 6.8 and later warn about the nesting; it happens whatever the configuration says",
  },
  {
    pattern:
      /WARNING: (?:system is EFI but no EFI system partitions found\.|System is EFI but there's no EFI system partition, DISABLING alongside and replace features\.)/,
    why: "on UEFI, Calamares looks for an existing EFI system partition to install alongside or replace into; a blank (or new) disk has none, so only Erase disk is offered, and Erase disk creates one (the summary lists it)",
  },
  {
    pattern: /WARNING: Invalid osprober count, labels and buttons not updated\./,
    why: "the partition page retranslates its texts before os-prober has reported (the count starts at -1) and does it again once it has; an ordering message inside Calamares",
  },
  {
    pattern:
      /WARNING \(Qt\): QObject::setParent: Cannot set parent, new parent is in a different thread/,
    why: "raised by Calamares' own widget code while it builds the summary page (logged the moment that page is entered); no configuration key takes part",
  },
  {
    pattern:
      /WARNING \(Qt\): QLayout: Attempting to add QLayout "" to QWidget "", which already has a layout/,
    why: "raised by Calamares' own widget code while it builds the summary page (logged the moment that page is entered); no configuration key takes part",
  },
];

/** Error (level 1) and warning (level 2) entries, and stray lines that say WARNING or ERROR. */
function isProblem(entry: CalamaresLogEntry): boolean {
  if (entry.level !== undefined) return entry.level === 1 || entry.level === 2;
  return /\b(?:WARNING|ERROR|CRITICAL|FATAL)\b/.test(entry.text);
}

export interface CalamaresLogReport {
  /** Warnings and errors that need fixing (each entry's text, as logged). */
  problems: string[];
  /** Warnings left out as harmless, with the reason. */
  ignored: { text: string; why: string }[];
}

/** Sorts the warnings and errors in Calamares' debug log (from a serial log) into both kinds. */
export function calamaresLogReport(serialText: string): CalamaresLogReport {
  const report: CalamaresLogReport = { problems: [], ignored: [] };
  for (const entry of calamaresLogEntries(calamaresLogLines(serialText))) {
    if (!isProblem(entry)) continue;
    const harmless = HARMLESS_CALAMARES_WARNINGS.find((h) => h.pattern.test(entry.text));
    if (harmless) report.ignored.push({ text: entry.text, why: harmless.why });
    else report.problems.push(entry.text);
  }
  return report;
}

/**
 * The warnings and errors in the Calamares debug log that the live system copies to the serial
 * console (installer-scripts/live/live-marker), minus HARMLESS_CALAMARES_WARNINGS: each is an
 * entry's text as logged (header line plus message lines). Empty means Calamares found nothing
 * to complain about in its settings, module configuration, branding and environment.
 */
export function calamaresLogProblems(serialText: string): string[] {
  return calamaresLogReport(serialText).problems;
}
