import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Command, Option } from "commander";
import { withInterruptHandling } from "../../build/interrupt.js";
import { loadConfig } from "../../config/load.js";
import { AtomisoError } from "../../errors.js";
import {
  bootIso,
  createBlankDisk,
  type DiskSpec,
  type Firmware,
  type Media,
} from "../../qemu/index.js";
import { bootInstalled, unattendedInstall } from "../../qemu/install.js";
import { type GlobalOptions, reporterFor } from "../options.js";

/** On the welcome page Calamares shows this until every module has loaded and checked. */
export const WAITING_FOR_MODULES = /Waiting for \d+ modules?/i;
/** Shown under the welcome title once all modules loaded and every requirement passed. */
export const ALL_REQUIREMENTS_MET = "This program will ask you some questions";
/** Calamares' log line once every module has loaded and checked its requirements, met or not;
 *  live-marker copies the log to the serial console ("calamares: …"). The welcome page is
 *  complete from then on, so the screen checks start there (BootOptions.screenReady). */
export const REQUIREMENTS_CHECKED = /calamares: .*All requirements have been checked/;
/** BootOptions.screenReady for a Calamares live ISO: its requirements checked, within 5 min. */
export const WELCOME_READY = { pattern: REQUIREMENTS_CHECKED, timeoutMs: 5 * 60_000 };
/** Shown when a requirement (disk, RAM, root) fails. */
export const REQUIREMENTS_NOT_MET = /does not satisfy the minimum requirements/i;

export function registerTestBoot(program: Command, globals: () => GlobalOptions): void {
  const test = program.command("test").description("test an ISO in QEMU (TCG)");
  test
    .command("boot <iso>")
    .description("boot the ISO until Calamares runs, then check the welcome page by OCR")
    .addOption(
      new Option("--firmware <firmware>", "firmware")
        .choices(["bios", "uefi", "uefi-secureboot"])
        .default("bios"),
    )
    .addOption(
      new Option("--media <media>", "cdrom, or usb: the ISO as a plain disk (dd'ed stick)")
        .choices(["cdrom", "usb"])
        .default("cdrom"),
    )
    .option(
      "--expect <text...>",
      "text that must be on the screen (default: the product name from atomiso.toml)",
    )
    .option("--artifacts <dir>", "where serial log and screenshots go", "out/boot")
    .option("--memory <MiB>", "guest memory", "3072")
    .option("--disk <GiB>", "size of the blank target disk attached to the machine (0: none)", "20")
    .option("--kvm", "use KVM instead of TCG (CI runners with /dev/kvm; TCG is the default)")
    .action(
      async (
        iso: string,
        opts: {
          firmware: Firmware;
          media: Media;
          expect?: string[];
          artifacts: string;
          memory: string;
          disk: string;
          kvm?: boolean;
        },
      ) => {
        if (!existsSync(iso))
          throw new AtomisoError("usage", `no ISO at ${iso}`, "build one with `atomiso build`");
        let expect = opts.expect;
        if (!expect) {
          const config = await loadConfig(globals().config).catch(() => undefined);
          expect = config ? [config.config.product.name] : [];
          if (Number(opts.disk) > 0) expect.push(ALL_REQUIREMENTS_MET);
        }
        const reporter = reporterFor(globals());
        const diskGiB = Number(opts.disk);
        const disks: DiskSpec[] = [];
        if (diskGiB > 0) {
          await mkdir(opts.artifacts, { recursive: true });
          const dir = await mkdtemp(join(opts.artifacts, "disk-"));
          disks.push({ path: await createBlankDisk(join(dir, "target.qcow2"), diskGiB) });
        }
        const result = await withInterruptHandling(() =>
          bootIso({
            iso,
            firmware: opts.firmware,
            media: opts.media,
            memoryMiB: Number(opts.memory),
            ...(opts.kvm ? { accel: "kvm" as const } : {}),
            artifactsDir: opts.artifacts,
            expectText: expect,
            rejectText: [WAITING_FOR_MODULES, ...(disks.length > 0 ? [REQUIREMENTS_NOT_MET] : [])],
            // The OCR starts once the page can be complete, then looks every 3 s.
            screenReady: WELCOME_READY,
            screenshotIntervalMs: 3_000,
            disks,
            reporter,
          }),
        );
        const d = result.durations;
        const ready =
          d.screenReadyMs !== undefined
            ? `, requirements checked after ${(d.screenReadyMs / 1000).toFixed(0)}s`
            : "";
        console.log(
          `booted ${opts.firmware}/${opts.media}: marker after ${(d.markerMs / 1000).toFixed(0)}s${ready}, screen ok after ${((d.markerMs + d.screenMs) / 1000).toFixed(0)}s`,
        );
        console.log(`screenshot: ${result.finalScreenshot}`);
        console.log(`artifacts:  ${result.runDir}`);
      },
    );

  test
    .command("install <iso>")
    .description(
      "install the ISO's image unattended onto a blank virtual disk (answer file), then boot that disk and log in",
    )
    .requiredOption("--answer <file>", "answer file (TOML); its disk.device is /dev/vda")
    .addOption(
      new Option("--firmware <firmware>", "firmware").choices(["bios", "uefi"]).default("bios"),
    )
    .option("--artifacts <dir>", "where the disk, serial logs and screenshots go", "out/install")
    .option("--memory <MiB>", "guest memory during the install", "3072")
    .option("--disk <GiB>", "size of the target disk", "20")
    .option("--user <name>", "log in as this user after the install (with --password)")
    .option("--password <password>", "the user's password (the answer file holds its hash)")
    .action(
      async (
        iso: string,
        opts: {
          answer: string;
          firmware: Firmware;
          artifacts: string;
          memory: string;
          disk: string;
          user?: string;
          password?: string;
        },
      ) => {
        if (!existsSync(iso))
          throw new AtomisoError("usage", `no ISO at ${iso}`, "build one with `atomiso build`");
        const answerToml = await readFile(opts.answer, "utf8");
        await mkdir(opts.artifacts, { recursive: true });
        const target = await createBlankDisk(
          join(opts.artifacts, "target.qcow2"),
          Number(opts.disk),
        );
        const install = await withInterruptHandling(() =>
          unattendedInstall({
            iso,
            firmware: opts.firmware,
            target,
            answerToml,
            runDir: join(opts.artifacts, "install"),
            memoryMiB: Number(opts.memory),
          }),
        );
        console.log(`${install.installedLine} (${install.seconds}s)`);
        if (install.memoryLine) console.log(install.memoryLine);
        console.log(
          install.poweredOffByItself
            ? "the live system powered off (install.after = poweroff)"
            : `install.after = ${install.after}: the live guest was stopped once the install was done`,
        );
        console.log(`installed disk: ${target}`);
        if (!opts.user || !opts.password) return;
        const booted = await withInterruptHandling(() =>
          bootInstalled({
            firmware: opts.firmware,
            target,
            runDir: join(opts.artifacts, "boot"),
            user: opts.user as string,
            password: opts.password as string,
            commands: ["cat /proc/cmdline", "ostree admin status", "id"],
          }),
        );
        console.log(`logged in after ${booted.loginPromptSeconds}s:\n${booted.output}`);
      },
    );
}
