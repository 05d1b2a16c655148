// Install-and-reboot in QEMU: boot the installer ISO with an answer file so the live system
// installs unattended onto a virtual disk (then it powers off, or the harness stops it: see
// endLiveGuest), then boot that disk alone, log in on the serial console as the user the answer
// file created, and run a few commands there.
// Used by `atomiso test install` and the boot tier.
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AtomisoError } from "../errors.js";
import { run } from "../tools/exec.js";
import { type Guest, launchGuest } from "./guest.js";
import type { DiskSpec, Firmware, GuestForward, HostForward } from "./machine.js";
import { settleWithin } from "./timeout.js";

/** File system label of the small disk that carries the answer file. */
export const ANSWER_LABEL = "ATOMISO-ANS";
export const INSTALLED_LINE = /atomiso-install: installed .*/;
const FAILED_LINE = /ATOMISO-MARKER unattended-failed.*|atomiso-error: .*/;
/** The live system's last word before it reboots or powers off (installer-scripts/live/unattended). */
const DONE_LINE = /ATOMISO-MARKER unattended-done after=(\w+)/;

/** How long a live system that said after=poweroff may take to power the machine off. */
export const POWEROFF_TIMEOUT_MS = 5 * 60_000;

/**
 * What the harness does once the live system has said "unattended-done after=<action>":
 * - "wait-for-poweroff" (after = poweroff): the live system powers the machine off itself, and
 *   that it does is part of what is tested.
 * - "stop-guest" (after = reboot or none): the install is over (atomiso-install has unmounted
 *   and synced the target before the marker), so the harness stops the live guest at once. A
 *   reboot would start the live kernel again with the answer file, i.e. install a second time;
 *   with none the live system would idle until a timeout.
 */
export type AfterInstallStep = "wait-for-poweroff" | "stop-guest";

/** The action named by the live system's done marker, and what the harness does next. */
export function afterInstallStep(markerLine: string): {
  after: "poweroff" | "reboot" | "none";
  step: AfterInstallStep;
} {
  const after = DONE_LINE.exec(markerLine)?.[1];
  if (after === "poweroff") return { after, step: "wait-for-poweroff" };
  if (after === "reboot" || after === "none") return { after, step: "stop-guest" };
  throw new AtomisoError(
    "boot-failed",
    after === undefined
      ? `not the live system's done marker: ${JSON.stringify(markerLine)}`
      : `the live system reported after=${after}; only poweroff, reboot and none are known`,
    "the ISO's installer-scripts/live/unattended and this atomiso do not match; rebuild the ISO with this atomiso",
  );
}

export interface IsoBoot {
  kernel: string;
  initrd: string;
  /** The kernel arguments of the ISO's "Install" menu entry, as GRUB passes them. */
  args: string;
}

/**
 * Extracts the live kernel, initrd and the install entry's arguments from the ISO, with the
 * GRUB variables medium.cfg sets expanded as GRUB expands them.
 */
export async function isoBoot(iso: string, dir: string): Promise<IsoBoot> {
  await mkdir(dir, { recursive: true });
  const files = {
    kernel: join(dir, "vmlinuz"),
    initrd: join(dir, "initrd.img"),
    grub: join(dir, "grub.cfg"),
    medium: join(dir, "medium.cfg"),
  };
  await run([
    "osirrox",
    "-indev",
    iso,
    "-extract",
    "/live/vmlinuz",
    files.kernel,
    "-extract",
    "/live/initrd.img",
    files.initrd,
    "-extract",
    "/boot/grub/grub.cfg",
    files.grub,
    "-extract",
    "/boot/grub/medium.cfg",
    files.medium,
  ]);
  const cfg = await readFile(files.grub, "utf8");
  // The variables medium.cfg sets, which GRUB expands in the linux line (atomiso.toram=…).
  const vars = new Map(
    [...(await readFile(files.medium, "utf8")).matchAll(/^set (\w+)=(\S*)$/gm)].map(
      (m) => [m[1] as string, m[2] as string] as const,
    ),
  );
  const entry = /menuentry "[^"]*" --id install \{[^}]*?\n\s*linux \/live\/vmlinuz ([^\n]*)/.exec(
    cfg,
  );
  if (!entry?.[1]) {
    throw new AtomisoError(
      "boot-failed",
      `${iso} has no "install" menu entry with a linux line in /boot/grub/grub.cfg`,
      "is it an atomiso ISO?",
    );
  }
  const args = entry[1].trim().replace(/\$\{(\w+)\}/g, (_, name: string) => vars.get(name) ?? "");
  return { kernel: files.kernel, initrd: files.initrd, args };
}

/** A small ext4 disk image labelled ATOMISO-ANS holding answer.toml (made without mounting). */
export async function answerDisk(answerToml: string, path: string): Promise<string> {
  const dir = `${path}.d`;
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "answer.toml"), answerToml, { mode: 0o600 });
  await run(["mkfs.ext4", "-q", "-F", "-L", ANSWER_LABEL, "-d", dir, path, "16M"]);
  return path;
}

export interface InstallRun {
  seconds: number;
  /** The installer's "installed …" line. */
  installedLine: string;
  /** The answer file's install.after, from the live system's "done" marker. */
  after: "poweroff" | "reboot" | "none";
  /** True when the live system powered off by itself (after = poweroff); false when the harness stopped it. */
  poweredOffByItself: boolean;
  /** "atomiso-memory: MemTotal … MiB, peak used … MiB", if the installer printed it. */
  memoryLine?: string;
  serialLog: string;
}

export interface UnattendedInstallOptions {
  iso: string;
  firmware: Firmware;
  /** The target disk (e.g. a blank qcow2); the answer file must name it (/dev/vda). */
  target: string;
  answerToml: string;
  runDir: string;
  memoryMiB?: number;
  smp?: 1 | 2;
  timeoutMs?: number;
  /** Network for an online install: the guest reaches only these host ports. */
  guestForwards?: GuestForward[];
  /** Guest ports the host reaches while the live system runs (e.g. its sshd). */
  hostForwards?: HostForward[];
  /** UEFI: the caller's own VARS file, used in place (GuestSpec.ovmfVarsFile). */
  ovmfVarsFile?: string;
}

/**
 * Boots the ISO's live kernel directly with atomiso.answer= added (the ISO's GRUB path is
 * proven by the boot tests), waits for the installer's "installed" line and the "done" marker,
 * then ends the live guest as the marker says (afterInstallStep).
 */
export async function unattendedInstall(o: UnattendedInstallOptions): Promise<InstallRun> {
  await mkdir(o.runDir, { recursive: true });
  const boot = await isoBoot(o.iso, join(o.runDir, "iso-boot"));
  const answer = await answerDisk(o.answerToml, join(o.runDir, "answer.img"));
  const started = Date.now();
  let guest: Guest | undefined;
  try {
    guest = await launchGuest({
      firmware: o.firmware,
      iso: o.iso,
      media: "cdrom",
      disks: [{ path: o.target }, { path: answer, format: "raw", readonly: true }],
      directKernel: {
        kernel: boot.kernel,
        initrd: boot.initrd,
        append: `${boot.args} atomiso.answer=LABEL=${ANSWER_LABEL}:/answer.toml`,
      },
      memoryMiB: o.memoryMiB ?? 3072,
      smp: o.smp ?? 1,
      runDir: o.runDir,
      ...(o.guestForwards ? { guestForwards: o.guestForwards } : {}),
      ...(o.hostForwards ? { hostForwards: o.hostForwards } : {}),
      ...(o.ovmfVarsFile ? { ovmfVarsFile: o.ovmfVarsFile } : {}),
    });
    const g = guest;
    const timeoutMs = o.timeoutMs ?? 40 * 60_000;
    // Whichever of "installed" and "failed" shows first, the other wait ends with it.
    const settled = new AbortController();
    const signal = AbortSignal.any([g.signal, settled.signal]);
    const outcome = await Promise.race([
      g.serial.waitFor(INSTALLED_LINE, { timeoutMs, signal }),
      g.serial.waitFor(FAILED_LINE, { timeoutMs, signal }).then((m) => {
        throw new AtomisoError(
          "boot-failed",
          `the unattended install failed: ${m.line}\n${g.serial
            .lastLines(30)
            .map((l) => `    | ${l}`)
            .join("\n")}`,
          `the whole serial log is ${g.plan.serialLog}`,
        );
      }),
    ]).finally(() => settled.abort("the other outcome was seen first"));
    const ended = await endLiveGuest(g);
    const memory = /atomiso-memory: .*/.exec(g.serial.text())?.[0];
    return {
      seconds: Math.round((Date.now() - started) / 1000),
      installedLine: outcome.line,
      after: ended.after,
      poweredOffByItself: ended.step === "wait-for-poweroff",
      ...(memory ? { memoryLine: memory.trim() } : {}),
      serialLog: g.plan.serialLog,
    };
  } finally {
    await guest?.stop();
  }
}

/**
 * After the "installed" line: waits for the done marker, then either waits for the live system
 * to power off (after = poweroff) or stops the guest's CPUs at once and leaves guest.stop() to
 * the caller (after = reboot or none).
 */
export async function endLiveGuest(
  g: Guest,
  options: { markerTimeoutMs?: number; poweroffTimeoutMs?: number } = {},
): Promise<ReturnType<typeof afterInstallStep>> {
  const done = await g.serial.waitFor(DONE_LINE, {
    timeoutMs: options.markerTimeoutMs ?? 5 * 60_000,
    signal: g.signal,
  });
  const next = afterInstallStep(done.line);
  if (next.step === "stop-guest") {
    // Paused before the live system's reboot can start it again; guest.stop() then quits QEMU.
    if (g.proc.exitInfo === undefined) await g.qmp.execute("stop").catch(() => undefined);
    return next;
  }
  const poweroffTimeoutMs = options.poweroffTimeoutMs ?? POWEROFF_TIMEOUT_MS;
  const exited = await settleWithin(g.proc.exited, poweroffTimeoutMs);
  if (!exited.settled) {
    throw new AtomisoError(
      "boot-failed",
      `the live system said "unattended-done after=poweroff" but the guest did not power off within ${Math.round(poweroffTimeoutMs / 1000)} s`,
      `see the last lines of ${g.plan.serialLog}`,
    );
  }
  return next;
}

export interface InstalledBootOptions {
  firmware: Firmware;
  target: string;
  runDir: string;
  user: string;
  password: string;
  /** Shell commands run after logging in; their output comes back in `output`. */
  commands: string[];
  /** The root is LUKS-encrypted: type this at the initramfs' passphrase prompt. */
  passphrase?: string;
  memoryMiB?: number;
  timeoutMs?: number;
  /** How long `commands` may run together (default 2 minutes; an update takes longer). */
  commandsTimeoutMs?: number;
  /** Host ports the installed system reaches (e.g. the registry it updates from). */
  guestForwards?: GuestForward[];
  /** UEFI: the caller's own VARS file, used in place (GuestSpec.ovmfVarsFile). */
  ovmfVarsFile?: string;
}

export interface InstalledBoot {
  /** Seconds from power-on to the login prompt. */
  loginPromptSeconds: number;
  /** Seconds from power-on to the passphrase prompt (encrypted roots only). */
  passphrasePromptSeconds?: number;
  output: string;
  serialLog: string;
}

/** Boots the installed disk alone, logs in on the serial console and runs `commands`. */
export async function bootInstalled(o: InstalledBootOptions): Promise<InstalledBoot> {
  await mkdir(o.runDir, { recursive: true });
  const disk: DiskSpec = { path: o.target };
  const started = Date.now();
  const guest = await launchGuest({
    firmware: o.firmware,
    disks: [disk],
    memoryMiB: o.memoryMiB ?? 2048,
    smp: 1,
    runDir: o.runDir,
    serialInput: true,
    ...(o.guestForwards ? { guestForwards: o.guestForwards } : {}),
    ...(o.ovmfVarsFile ? { ovmfVarsFile: o.ovmfVarsFile } : {}),
  });
  try {
    const wait = (re: RegExp, since: number, timeoutMs = 5 * 60_000) =>
      guest.serial.waitFor(re, { timeoutMs, signal: guest.signal, since });
    const input = guest.serialInput;
    if (!input) throw new Error("launchGuest returned no serial input");
    let since = 0;
    let passphrasePromptSeconds: number | undefined;
    if (o.passphrase !== undefined) {
      // systemd-cryptsetup in the initramfs asks on /dev/console, the last console= (ttyS0).
      await wait(/Please enter passphrase for disk /, 0, o.timeoutMs ?? 15 * 60_000);
      passphrasePromptSeconds = Math.round((Date.now() - started) / 1000);
      since = guest.serial.text().length;
      await input.type(`${o.passphrase}\n`);
    }
    await wait(/ login: $|login: *$/m, since, o.timeoutMs ?? 15 * 60_000);
    const loginPromptSeconds = Math.round((Date.now() - started) / 1000);
    let mark = guest.serial.text().length;
    await input.type(`${o.user}\n`);
    await wait(/Password: *$/m, mark, 60_000);
    mark = guest.serial.text().length;
    await input.type(`${o.password}\n`);
    await wait(new RegExp(`${o.user}@[^\\s:]+:[^\\n]*\\$ *$`, "m"), mark, 120_000);
    mark = guest.serial.text().length;
    // The markers are computed by the shell, so the echo of the typed line never matches them.
    const script = ["echo ATOMISO-BEGIN-$((40+2))", ...o.commands, "echo ATOMISO-END-$((50+3))"];
    await input.type(`${script.join("; ")}\n`);
    await wait(/ATOMISO-END-53/, mark, o.commandsTimeoutMs ?? 120_000);
    const text = guest.serial.text().slice(mark);
    const output = text
      .slice(
        text.indexOf("ATOMISO-BEGIN-42") + "ATOMISO-BEGIN-42".length,
        text.indexOf("ATOMISO-END-53"),
      )
      .replace(/\r/g, "")
      .replace(/^\s*\n/, "");
    return {
      loginPromptSeconds,
      ...(passphrasePromptSeconds !== undefined ? { passphrasePromptSeconds } : {}),
      output,
      serialLog: guest.plan.serialLog,
    };
  } finally {
    await guest.stop();
  }
}

/** Keeps a copy of a file among the test artifacts, if it exists. */
export async function keepArtifact(file: string, dir: string, name: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await copyFile(file, join(dir, name)).catch(() => undefined);
}
