// Real QEMU (TCG) boots of a tiny GRUB-only hybrid ISO made with grub-mkrescue: BIOS and UEFI,
// cdrom and USB. Checks the serial marker, the firmware it reports, a real PNG screenshot, and OCR.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AtomisoError } from "../../src/errors.js";
import { createReporter } from "../../src/log/reporter.js";
import { type BootOptions, type BootResult, bootIso } from "../../src/qemu/boot.js";
import { launchGuest } from "../../src/qemu/guest.js";
import type { Firmware, Media } from "../../src/qemu/machine.js";
import { ocrWords } from "../../src/qemu/ocr.js";
import { isPng, pngSize } from "../../src/qemu/png.js";
import { run } from "../../src/tools/exec.js";

const repoDir = fileURLToPath(new URL("../..", import.meta.url));
const artifacts = join(repoDir, "test-artifacts", "qemu-tiny");

const GRUB_CFG = `serial --unit=0 --speed=115200
terminal_output console serial
echo "ATOMISO-MARKER tiny-booted firmware=$grub_platform"
echo ""
echo "ATOMISO OCR PROBE"
echo "ATOMISO OCR PROBE"
echo "ATOMISO OCR PROBE"
sleep 600
`;

let workDir: string;
let iso: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "atomiso-qemu-tiny-"));
  const root = join(workDir, "iso-root");
  await mkdir(join(root, "boot", "grub"), { recursive: true });
  await writeFile(join(root, "boot", "grub", "grub.cfg"), GRUB_CFG);
  iso = join(workDir, "tiny.iso");
  await run(["grub-mkrescue", "-o", iso, root], { timeoutMs: 120_000 });
  const { stdout } = await run(["xorriso", "-indev", iso, "-report_el_torito", "plain"]);
  // Both boot paths must be in the image, or the test would prove nothing.
  expect(stdout).toMatch(/El Torito boot img\s*:\s*1\s+BIOS/);
  expect(stdout).toMatch(/El Torito boot img\s*:\s*2\s+UEFI/);
  await mkdir(artifacts, { recursive: true });
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** PIDs of processes whose command line mentions `needle` (to prove QEMU is gone). */
async function processesMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8");
      if (cmdline.includes(needle) && cmdline.includes("qemu-system")) pids.push(Number(entry));
    } catch {
      // process ended while we looked
    }
  }
  return pids;
}

async function boot(
  name: string,
  firmware: Firmware,
  media: Media,
  extra: Partial<BootOptions> = {},
): Promise<{ result: BootResult; log: string[] }> {
  const runDir = join(artifacts, name);
  await rm(runDir, { recursive: true, force: true });
  const log: string[] = [];
  const reporter = createReporter({ kind: "plain", write: (t) => log.push(t) });
  const result = await bootIso({
    iso,
    firmware,
    media,
    runDir,
    marker: /ATOMISO-MARKER tiny-booted/,
    markerTimeoutMs: 90_000,
    expectText: ["OCR PROBE"],
    rejectText: [/Waiting for \d+ modules/],
    screenTimeoutMs: 60_000,
    screenshotIntervalMs: 3_000,
    reporter,
    ...extra,
  });
  const d = result.durations;
  console.log(
    `[qemu-tiny] ${name}: qmp ${d.qmpReadyMs} ms, marker ${d.markerMs} ms, screen ${d.screenMs} ms, total ${d.totalMs} ms`,
  );
  return { result, log };
}

async function expectRealPng(path: string): Promise<void> {
  const data = await readFile(path);
  expect(data.length).toBeGreaterThan(1000);
  expect(isPng(data)).toBe(true);
  const { width, height } = pngSize(data);
  expect(width).toBeGreaterThanOrEqual(640);
  expect(height).toBeGreaterThanOrEqual(400);
}

async function expectArtifacts(result: BootResult): Promise<void> {
  for (const file of ["serial.log", "qemu.log", "qemu-argv.txt", "qemu-argv.json", "result.json"]) {
    expect((await stat(join(result.runDir, file))).isFile()).toBe(true);
  }
  expect(await readFile(result.serialLog, "utf8")).toContain("ATOMISO-MARKER tiny-booted");
  expect(result.screenshots).toContain(result.finalScreenshot);
  await expectRealPng(result.finalScreenshot);
  const txt = result.finalScreenshot.replace(/\.png$/, ".txt");
  expect(await readFile(txt, "utf8")).toContain("OCR PROBE");
  expect(result.ocrText).toContain("OCR PROBE");
  // The words come with boxes on the screenshot: PROBE right of OCR, on the same line.
  const words = await ocrWords(result.finalScreenshot);
  const ocrWord = words.find((w) => w.text === "OCR");
  const probe = words.find((w) => w.text === "PROBE");
  if (!ocrWord || !probe) throw new Error(`no OCR PROBE words in ${JSON.stringify(words)}`);
  const { width } = pngSize(await readFile(result.finalScreenshot));
  expect(probe.left).toBeGreaterThan(ocrWord.left + ocrWord.width);
  expect(probe.left + probe.width).toBeLessThanOrEqual(width);
  expect(Math.abs(probe.top - ocrWord.top)).toBeLessThan(probe.height);
  // QEMU was stopped at the end.
  expect(await processesMentioning(result.runDir)).toEqual([]);
  expect(result.durations.totalMs).toBeLessThan(120_000);
}

describe("bootIso on a tiny grub-mkrescue ISO", () => {
  it("boots with SeaBIOS from cdrom", async () => {
    // The screen checks start once the serial console shows the page's own line.
    const { result, log } = await boot("bios-cdrom", "bios", "cdrom", {
      screenReady: { pattern: /ATOMISO OCR PROBE/, timeoutMs: 30_000 },
    });
    expect(result.durations.screenReadyMs).toBeGreaterThanOrEqual(result.durations.markerMs);
    expect(result.markerLine).toContain("ATOMISO-MARKER tiny-booted firmware=pc");
    expect(result.firmwareSeen).toBe("pc");
    expect(result.firmwareMode).toBe("bios");
    expect(result.argv.join(" ")).not.toMatch(/pflash/);
    await expectArtifacts(result);
    expect(log.join("")).toMatch(/✔ boot tiny\.iso \(bios, cdrom\)/);
  });

  it("boots with OVMF from cdrom, using a per-run VARS copy", async () => {
    const { result } = await boot("uefi-cdrom", "uefi", "cdrom");
    expect(result.markerLine).toContain("ATOMISO-MARKER tiny-booted firmware=efi");
    expect(result.firmwareSeen).toBe("efi");
    expect(result.firmwareMode).toBe("uefi");
    const vars = join(result.runDir, "OVMF_VARS.fd");
    expect((await stat(vars)).size).toBe((await stat("/usr/share/OVMF/OVMF_VARS_4M.fd")).size);
    expect(result.argv).toContain(`if=pflash,format=raw,unit=1,file=${vars}`);
    await expectArtifacts(result);
  });

  it("boots with OVMF from the ISO attached as a USB disk", async () => {
    const { result } = await boot("uefi-usb", "uefi", "usb");
    expect(result.firmwareSeen).toBe("efi");
    expect(result.argv.join(" ")).toContain("usb-storage");
    expect(result.argv.join(" ")).not.toContain("media=cdrom");
    await expectArtifacts(result);
  });

  it("boots with SeaBIOS from USB, ahead of an empty target disk", async () => {
    const target = join(workDir, "target.qcow2");
    await run(["qemu-img", "create", "-f", "qcow2", target, "1G"]);
    const { result, log } = await boot("bios-usb-disk", "bios", "usb", {
      disks: [{ path: target }],
      smp: 1,
      // A line that never comes delays the screen checks by its timeout and fails nothing.
      screenReady: { pattern: /NEVER PRINTED/, timeoutMs: 2_000 },
    });
    expect(result.durations.screenReadyMs).toBeUndefined();
    expect(log.join("")).toMatch(/wait for \/NEVER PRINTED\/ on the serial console/);
    expect(result.firmwareSeen).toBe("pc");
    expect(result.argv.join(" ")).toContain("virtio-blk-pci,drive=disk0,bootindex=1");
    await expectArtifacts(result);
  });

  it("fails with the serial tail and a failure screenshot when the marker never comes, and still stops QEMU", async () => {
    const runDir = join(artifacts, "bios-no-marker");
    await rm(runDir, { recursive: true, force: true });
    const started = Date.now();
    const err = await bootIso({
      iso,
      firmware: "bios",
      runDir,
      marker: /THIS-NEVER-APPEARS/,
      markerTimeoutMs: 10_000,
      bootScreenshotIntervalMs: 4_000,
    }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(err).toBeInstanceOf(AtomisoError);
    const e = err as AtomisoError;
    expect(e.code).toBe("boot-failed");
    expect(e.message).toContain("did not show /THIS-NEVER-APPEARS/ within 10 s");
    expect(e.message).toContain("| ATOMISO OCR PROBE");
    expect(e.hint).toContain(runDir);
    await expectRealPng(join(runDir, "screenshots", "failure.png"));
    await expectRealPng(join(runDir, "screenshots", "boot-001.png"));
    expect(JSON.parse(await readFile(join(runDir, "result.json"), "utf8")).ok).toBe(false);
    expect(await processesMentioning(runDir)).toEqual([]);
  });

  it("fails when the screen keeps showing rejected text", async () => {
    const runDir = join(artifacts, "bios-rejected-text");
    await rm(runDir, { recursive: true, force: true });
    const err = await bootIso({
      iso,
      firmware: "bios",
      runDir,
      marker: /ATOMISO-MARKER tiny-booted/,
      markerTimeoutMs: 90_000,
      expectText: ["OCR PROBE"],
      rejectText: [/OCR\s+PROBE/],
      screenTimeoutMs: 5_000,
      screenshotIntervalMs: 2_000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AtomisoError);
    expect((err as AtomisoError).code).toBe("boot-failed");
    expect((err as AtomisoError).message).toMatch(/showing \/OCR\\s\+PROBE\//);
    expect(await processesMentioning(runDir)).toEqual([]);
  });
  it("enforces Secure Boot: OVMF with Microsoft keys refuses the unsigned GRUB", async () => {
    const { result } = await boot("uefi-secureboot-cdrom", "uefi-secureboot", "cdrom", {
      marker: /Access Denied/,
      markerTimeoutMs: 90_000,
      expectText: [],
      rejectText: [],
    });
    expect(result.markerLine).toMatch(/failed to load Boot\d+/);
    expect(result.argv).toContain("q35,smm=on");
    expect(await readFile(result.serialLog, "utf8")).not.toContain("ATOMISO-MARKER");
    await expectRealPng(result.finalScreenshot);
    expect(await processesMentioning(result.runDir)).toEqual([]);
  });

  it("reports QEMU's own error when QEMU exits early", async () => {
    const runDir = join(artifacts, "qemu-exits");
    await rm(runDir, { recursive: true, force: true });
    const err = await bootIso({ iso, firmware: "bios", runDir, cpu: "no-such-cpu" }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AtomisoError);
    const e = err as AtomisoError;
    expect(e.code).toBe("boot-failed");
    expect(e.message).toMatch(/QEMU exited \(exit status 1\)/);
    expect(e.message).toContain("no-such-cpu");
    expect(e.hint).toContain("qemu-argv.txt");
  });
});

// Typing on the serial console (how the install test logs in to the installed system): GRUB
// reads a line from the serial port and echoes it back.
describe("serial console input", () => {
  it("types a line that the guest reads from its serial port", async () => {
    const root = join(workDir, "echo-root");
    await mkdir(join(root, "boot", "grub"), { recursive: true });
    await writeFile(
      join(root, "boot", "grub", "grub.cfg"),
      [
        "serial --unit=0 --speed=115200",
        "terminal_input serial console",
        "terminal_output serial console",
        'echo "ATOMISO-MARKER ready"',
        "read answer",
        'echo "ATOMISO-ECHO $answer"',
        "sleep 600",
        "",
      ].join("\n"),
    );
    const echoIso = join(workDir, "echo.iso");
    await run(["grub-mkrescue", "-o", echoIso, root], { timeoutMs: 120_000 });
    const runDir = join(artifacts, "serial-input");
    await rm(runDir, { recursive: true, force: true });
    // SeaBIOS: GRUB for EFI reads each serial character twice (serial and OVMF's console).
    // The guest starts paused (-S) and runs only because launchGuest resumes it once the
    // serial client is attached: without that the marker would never come.
    const guest = await launchGuest({ firmware: "bios", iso: echoIso, runDir, serialInput: true });
    try {
      expect(guest.plan.argv.join(" ")).toMatch(/socket,id=serial0,path=.*,logfile=/);
      expect(guest.plan.argv).toContain("-S");
      await guest.serial.waitFor(/ATOMISO-MARKER ready/, {
        timeoutMs: 60_000,
        signal: guest.signal,
      });
      await guest.serialInput?.type("hello-serial-42\r");
      const echo = await guest.serial.waitFor(/ATOMISO-ECHO (\S+)/, {
        timeoutMs: 30_000,
        signal: guest.signal,
      });
      expect(echo.line).toContain("ATOMISO-ECHO hello-serial-42");
    } finally {
      await guest.stop();
    }
    expect(await processesMentioning(runDir)).toEqual([]);
  });
});
