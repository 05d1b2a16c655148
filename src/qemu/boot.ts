import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { AtomisoError } from "../errors.js";
import { type Reporter, silentReporter } from "../log/reporter.js";
import { hasCommand } from "../tools/exec.js";
import { quoteArgv } from "../tools/shell-quote.js";
import { describeExit } from "../tools/spawn.js";
import { type Guest, launchGuest } from "./guest.js";
import { type DiskSpec, FIRMWARES, type Firmware, MEDIAS, type Media } from "./machine.js";
import {
  checkScreenText,
  describePattern,
  type OcrOptions,
  ocr,
  type ScreenTextCheck,
  type TextPattern,
} from "./ocr.js";
import type { SerialLog } from "./serial.js";

/** What the live system prints on ttyS0 once the installer is up. */
export const DEFAULT_MARKER = /ATOMISO-MARKER\s+calamares-running\b/;
/** Finds the firmware a marker line reports, e.g. "firmware=efi" (GRUB says "pc" for BIOS). */
const FIRMWARE_FIELD = /\bfirmware=(efi|uefi|bios|pc|legacy)/i;

export const DEFAULT_MARKER_TIMEOUT_MS = 15 * 60_000;
export const DEFAULT_SCREEN_TIMEOUT_MS = 10 * 60_000;
export const DEFAULT_SCREENSHOT_INTERVAL_MS = 10_000;
export const DEFAULT_BOOT_SCREENSHOT_INTERVAL_MS = 60_000;

export interface BootOptions {
  iso: string;
  firmware: Firmware;
  /** Default "cdrom". */
  media?: Media;
  /** Extra disks (e.g. an install target), after the ISO in the boot order. */
  disks?: DiskSpec[];
  /** Default 3072. */
  memoryMiB?: number;
  /** Default 2. */
  smp?: 1 | 2;
  /** Default TCG_CPU under TCG, "max" under KVM (machine.ts). */
  cpu?: string;
  /** Default "tcg". */
  accel?: "tcg" | "kvm";
  noReboot?: boolean;
  /** Use exactly this run directory (created if missing; must be empty). */
  runDir?: string;
  /** Otherwise a fresh <firmware>-<media>-<time>-XXXXXX directory is made here (default out/boot). */
  artifactsDir?: string;
  /** Serial line that means "booted" (default DEFAULT_MARKER). */
  marker?: RegExp;
  /** Default 15 min: a Debian live boot to the desktop takes ~3.5 min under TCG. */
  markerTimeoutMs?: number;
  /** Fail when the marker's firmware= field contradicts `firmware` (default true). */
  checkFirmware?: boolean;
  /** Every pattern must be on the screen (OCR) ... */
  expectText?: TextPattern[];
  /** ... and none of these, e.g. /Waiting for \d+ modules/. */
  rejectText?: TextPattern[];
  /**
   * Before the first screen check, wait up to timeoutMs for this serial line (e.g. Calamares'
   * requirements checked, which live-marker copies to the serial console): OCR costs about a
   * second of host CPU a screenshot, which a TCG guest then does not get, while the page cannot
   * be there yet. Not seeing it is no failure: the screen check decides.
   */
  screenReady?: { pattern: RegExp; timeoutMs: number };
  /** How long after the marker the screen may take to pass (default 10 min). */
  screenTimeoutMs?: number;
  /** Time between screen checks (default 10 s). */
  screenshotIntervalMs?: number;
  /**
   * Once the screen passed, wait up to timeoutMs for this serial line too (e.g. the live
   * system's boot report, written after the welcome page); not seeing it is no failure.
   */
  afterScreen?: { pattern: RegExp; timeoutMs: number };
  /** Screenshots while waiting for the marker, for post-mortems (default 60 s; 0 = none). */
  bootScreenshotIntervalMs?: number;
  ocr?: Omit<OcrOptions, "textFile">;
  ovmfDir?: string;
  qemuBinary?: string;
  reporter?: Reporter;
  /** Abort the boot (QEMU is still stopped and artifacts kept). */
  signal?: AbortSignal;
}

export interface ScreenCheck extends ScreenTextCheck {
  png: string;
  /** OCR text file next to the PNG. */
  txt: string;
  text: string;
  /** Since QEMU was started. */
  atMs: number;
}

export interface BootDurations {
  /** QEMU start until QMP answered. */
  qmpReadyMs: number;
  /** QEMU start until the serial marker. */
  markerMs: number;
  /** QEMU start until the screenReady line, when one was asked for and seen. */
  screenReadyMs?: number;
  /** Serial marker until the screen passed. */
  screenMs: number;
  totalMs: number;
}

export interface BootResult {
  runDir: string;
  firmware: Firmware;
  media: Media;
  argv: string[];
  /** The whole serial line the marker matched on (escape sequences removed). */
  markerLine: string;
  /** The marker's match and capture groups. */
  markerMatch: string[];
  /** The marker line's firmware= value as printed ("efi", "pc", "bios", ...). */
  firmwareSeen: string | undefined;
  /** firmwareSeen normalized. */
  firmwareMode: "bios" | "uefi" | undefined;
  /** Every screenshot taken, in order (boot-*.png while waiting, then screen-*.png). */
  screenshots: string[];
  /** The screenshot that passed the screen check, and its OCR text. */
  finalScreenshot: string;
  ocrText: string;
  screens: ScreenCheck[];
  serialLog: string;
  qemuLog: string;
  durations: BootDurations;
}

/** "pc"/"bios"/"legacy" -> "bios", "efi"/"uefi" -> "uefi". */
export function firmwareMode(seen: string | undefined): "bios" | "uefi" | undefined {
  if (seen === undefined) return undefined;
  const s = seen.toLowerCase();
  if (s === "pc" || s === "bios" || s === "legacy") return "bios";
  if (s === "efi" || s === "uefi") return "uefi";
  return undefined;
}

/** The firmware a marker line reports, e.g. "efi" from "... firmware=efi". */
export function firmwareFromMarker(line: string): string | undefined {
  return FIRMWARE_FIELD.exec(line)?.[1]?.toLowerCase();
}

const pad3 = (n: number) => String(n).padStart(3, "0");

function stamp(date = new Date()): string {
  return date
    .toISOString()
    .replace(/\.\d+Z$/, "")
    .replaceAll("-", "")
    .replaceAll(":", "")
    .replace("T", "-");
}

/** Resolves after ms, or early when the signal aborts. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((done) => {
    if (signal?.aborted || ms <= 0) {
      done();
      return;
    }
    const timer = setTimeout(finish, ms);
    function finish() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", finish);
      done();
    }
    signal?.addEventListener("abort", finish, { once: true });
  });
}

async function prepareRunDir(options: BootOptions, media: Media): Promise<string> {
  if (options.runDir) {
    const dir = resolve(options.runDir);
    await mkdir(dir, { recursive: true });
    const entries = await readdir(dir);
    if (entries.length > 0) {
      throw new AtomisoError(
        "usage",
        `the boot run directory ${dir} is not empty (it holds ${entries.length} entries), so old artifacts would mix with new ones`,
        "pass a new directory, or remove the old run's artifacts first",
      );
    }
    return dir;
  }
  const parent = resolve(options.artifactsDir ?? join("out", "boot"));
  await mkdir(parent, { recursive: true });
  return mkdtemp(join(parent, `${options.firmware}-${media}-${stamp()}-`));
}

async function tail(path: string, lines: number): Promise<string[]> {
  try {
    return (await readFile(path, "utf8"))
      .split("\n")
      .filter((l) => l.trim() !== "")
      .slice(-lines);
  } catch {
    return [];
  }
}

async function validate(options: BootOptions, media: Media): Promise<void> {
  if (!FIRMWARES.includes(options.firmware)) {
    throw new AtomisoError(
      "usage",
      `unknown firmware "${options.firmware}"`,
      `use one of: ${FIRMWARES.join(", ")}`,
    );
  }
  if (!MEDIAS.includes(media)) {
    throw new AtomisoError("usage", `unknown media "${media}"`, `use one of: ${MEDIAS.join(", ")}`);
  }
  try {
    if (!(await stat(options.iso)).isFile()) throw new Error("not a file");
  } catch {
    throw new AtomisoError(
      "usage",
      `the ISO ${options.iso} does not exist or is not a file`,
      "check the path, or build the ISO first with `atomiso build`",
    );
  }
  const qemu = options.qemuBinary ?? "qemu-system-x86_64";
  if (!qemu.includes("/") && !(await hasCommand(qemu))) {
    throw new AtomisoError(
      "tool-missing",
      `"${qemu}" is not installed or not on PATH, so the ISO cannot be boot-tested`,
      "install qemu-system-x86 (run `atomiso doctor` to see every missing host package)",
    );
  }
}

/** Boots `options.iso` in QEMU and checks the serial marker and the screen. */
export async function bootIso(options: BootOptions): Promise<BootResult> {
  const reporter = options.reporter ?? silentReporter;
  const media = options.media ?? "cdrom";
  await validate(options, media);
  const iso = resolve(options.iso);
  const runDir = await prepareRunDir(options, media);
  const shotsDir = join(runDir, "screenshots");
  await mkdir(shotsDir, { recursive: true });

  const qemuLog = join(runDir, "qemu.log");
  const marker = options.marker ?? DEFAULT_MARKER;
  const markerTimeoutMs = options.markerTimeoutMs ?? DEFAULT_MARKER_TIMEOUT_MS;
  const artifactsHint = `artifacts (serial.log, qemu.log, screenshots/) are kept in ${runDir}`;
  const screenshots: string[] = [];
  const screens: ScreenCheck[] = [];

  const title = `boot ${basename(iso)} (${options.firmware}, ${media})`;
  return reporter.step(title, async () => {
    reporter.detail(`run directory: ${runDir}`);
    const t0 = Date.now();
    let guest: Guest | undefined;

    const screenshot = async (name: string): Promise<string> => {
      if (!guest) throw new Error("QEMU is not running");
      const png = join(shotsDir, name);
      await guest.qmp.screendump(png);
      screenshots.push(png);
      return png;
    };

    try {
      guest = await launchGuest({
        firmware: options.firmware,
        iso,
        media,
        disks: options.disks,
        memoryMiB: options.memoryMiB,
        smp: options.smp,
        cpu: options.cpu,
        ...(options.accel ? { accel: options.accel } : {}),
        noReboot: options.noReboot,
        runDir,
        ovmfDir: options.ovmfDir,
        qemuBinary: options.qemuBinary,
        onQemuLine: (line) => reporter.detail(`qemu: ${line}`),
      });
      const { plan } = guest;
      const signal = options.signal
        ? AbortSignal.any([guest.signal, options.signal])
        : guest.signal;
      const qmpReadyMs = Date.now() - t0;
      reporter.detail(`qemu: ${quoteArgv(plan.argv)}`);
      reporter.detail(`QMP ready after ${qmpReadyMs} ms`);

      // 1. The serial marker, with occasional screenshots for post-mortems.
      const serial = guest.serial;
      const bootShotsCtl = new AbortController();
      const bootShots = (async () => {
        const every = options.bootScreenshotIntervalMs ?? DEFAULT_BOOT_SCREENSHOT_INTERVAL_MS;
        if (every <= 0) return;
        const stopShots = AbortSignal.any([bootShotsCtl.signal, signal]);
        for (let n = 1; ; n++) {
          await pause(every, stopShots);
          if (stopShots.aborted) return;
          try {
            await screenshot(`boot-${pad3(n)}.png`);
          } catch (err) {
            reporter.detail(`boot screenshot failed: ${(err as Error).message}`);
          }
        }
      })();
      let found: Awaited<ReturnType<SerialLog["waitFor"]>>;
      try {
        found = await reporter.step(`wait for ${marker} on the serial console`, () =>
          serial.waitFor(marker, {
            timeoutMs: markerTimeoutMs,
            signal,
            onPoll: (ms) =>
              reporter.progress(ms / markerTimeoutMs, `${Math.round(ms / 1000)} s since start`),
            hint: `look at the last serial lines above and the screenshots; under TCG a full boot takes minutes, so raise the timeout if the guest was still progressing; ${artifactsHint}`,
          }),
        );
      } finally {
        bootShotsCtl.abort();
        await bootShots;
      }
      const markerMs = Date.now() - t0;
      reporter.info(`serial: ${found.line}`);

      const firmwareSeen = firmwareFromMarker(found.line);
      const mode = firmwareMode(firmwareSeen);
      const wanted = options.firmware === "bios" ? "bios" : "uefi";
      if ((options.checkFirmware ?? true) && mode !== undefined && mode !== wanted) {
        throw new AtomisoError(
          "boot-failed",
          `the guest booted in ${mode} mode (marker says firmware=${firmwareSeen}) although ${options.firmware} firmware was requested: ${found.line}`,
          `the ISO's ${wanted === "uefi" ? "EFI" : "BIOS"} boot path was not used; check its El Torito / partition table with \`xorriso -indev <iso> -report_el_torito plain\`; ${artifactsHint}`,
        );
      }

      // 2. The screen: screenshot + OCR until the expected text is there.
      const expect = options.expectText ?? [];
      const reject = options.rejectText ?? [];
      const screenTimeoutMs = options.screenTimeoutMs ?? DEFAULT_SCREEN_TIMEOUT_MS;
      const interval = options.screenshotIntervalMs ?? DEFAULT_SCREENSHOT_INTERVAL_MS;
      const screenStart = Date.now();
      let screenReadyMs: number | undefined;
      if (options.screenReady) {
        const { pattern, timeoutMs } = options.screenReady;
        // Only a timeout is no failure; a panicked kernel or a stopped guest is.
        const seen = await reporter.step(`wait for ${pattern} on the serial console`, () =>
          serial.waitForIfAny(pattern, { timeoutMs, signal }),
        );
        if (seen) screenReadyMs = Date.now() - t0;
        else reporter.detail(`no ${pattern} within ${timeoutMs} ms: the screen check decides`);
      }
      const passed = await reporter.step("check the screen (OCR)", async () => {
        for (let n = 1; ; n++) {
          const roundStart = Date.now();
          const png = await screenshot(`screen-${pad3(n)}.png`);
          const txt = png.replace(/\.png$/, ".txt");
          const text = await ocr(png, { ...options.ocr, textFile: txt });
          const check = checkScreenText(text, expect, reject);
          const screen: ScreenCheck = { png, txt, text, atMs: Date.now() - t0, ...check };
          screens.push(screen);
          if (check.ok) return screen;
          const waiting = [
            ...check.missing.map((p) => `missing ${describePattern(p)}`),
            ...check.rejected.map((p) => `showing ${describePattern(p)}`),
          ].join(", ");
          reporter.detail(`screen ${n}: ${waiting}`);
          const elapsed = Date.now() - screenStart;
          reporter.progress(elapsed / screenTimeoutMs, waiting);
          if (elapsed + interval > screenTimeoutMs) {
            const shown = text
              .split("\n")
              .filter((l) => l.trim() !== "")
              .slice(-40)
              .map((l) => `    | ${l}`)
              .join("\n");
            throw new AtomisoError(
              "boot-failed",
              `the screen did not pass within ${Math.round(screenTimeoutMs / 1000)} s of the serial marker (${waiting}); OCR of the last screenshot ${png}:\n${shown || "    (no text recognized)"}`,
              `open the screenshots to see what the guest shows; ${artifactsHint}`,
            );
          }
          await pause(interval - (Date.now() - roundStart), signal);
          if (signal.aborted) {
            throw new AtomisoError(
              "boot-failed",
              `${String(signal.reason)} while waiting for the screen (${waiting})`,
              artifactsHint,
            );
          }
        }
      });
      const screenMs = Date.now() - screenStart;
      if (options.afterScreen) {
        const { pattern, timeoutMs } = options.afterScreen;
        await serial
          .waitFor(pattern, { timeoutMs, signal })
          .catch((err: unknown) =>
            reporter.detail(`no ${pattern} after the screen: ${String(err)}`),
          );
      }

      const result: BootResult = {
        runDir,
        firmware: options.firmware,
        media,
        argv: plan.argv,
        markerLine: found.line,
        markerMatch: [...found.match],
        firmwareSeen,
        firmwareMode: mode,
        screenshots: [...screenshots],
        finalScreenshot: passed.png,
        ocrText: passed.text,
        screens,
        serialLog: plan.serialLog,
        qemuLog,
        durations: {
          qmpReadyMs,
          markerMs,
          ...(screenReadyMs !== undefined ? { screenReadyMs } : {}),
          screenMs,
          totalMs: Date.now() - t0,
        },
      };
      await writeFile(
        join(runDir, "result.json"),
        `${JSON.stringify({ ok: true, ...result, screens: undefined }, null, 2)}\n`,
      );
      return result;
    } catch (err) {
      // Best-effort post-mortem: what the screen showed when things went wrong.
      if (guest && !guest.qmp.isClosed && guest.proc.exitInfo === undefined) {
        try {
          const png = await screenshot("failure.png");
          await ocr(png, {
            ...options.ocr,
            textFile: png.replace(/\.png$/, ".txt"),
            timeoutMs: 60_000,
          });
        } catch {
          // keep the original error
        }
      }
      let error = err;
      // QEMU exited after it started (launchGuest reports an exit before QMP answered).
      if (guest?.proc.exitInfo && err instanceof AtomisoError) {
        const log = await tail(qemuLog, 15);
        error = new AtomisoError(
          "boot-failed",
          `${err.message}\n  qemu.log (${describeExit(guest.proc.exitInfo)}):\n${
            log.map((l) => `    | ${l}`).join("\n") || "    (empty)"
          }`,
          `fix the QEMU error above; the command line is in ${join(runDir, "qemu-argv.txt")}; ${artifactsHint}`,
        );
      }
      await writeFile(
        join(runDir, "result.json"),
        `${JSON.stringify(
          { ok: false, error: error instanceof Error ? error.message : String(error), screenshots },
          null,
          2,
        )}\n`,
      ).catch(() => {});
      throw error;
    } finally {
      await guest?.stop();
    }
  });
}
