// The example ISO boots to the Calamares welcome page on SeaBIOS and OVMF, from a CD drive
// and as a plain disk (the dd'ed USB stick case), with and without Secure Boot. The SeaBIOS CD
// boot also checks the installer session around Calamares: NetworkManager has connected the
// wired NIC, and Super+Alt+S starts the screen reader and stops it again (live-marker reports
// both on the serial console). The OVMF CD boot is the second example profile's (Nimbus, built
// here with --no-payload): it shares the example's live system, so the same boot proves that
// path and that a profile's own names, not ParticleOS', reach its installer.

import { mkdir, mkdtemp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, inject, it } from "vitest";
import {
  ALL_REQUIREMENTS_MET,
  REQUIREMENTS_NOT_MET,
  WAITING_FOR_MODULES,
  WELCOME_READY,
} from "../../src/cli/commands/test-boot.js";
import { loadConfig } from "../../src/config/load.js";
import {
  BOOT_REPORT_END,
  bootAnalysis,
  describeBootAnalysis,
  type MediumCopy,
  mediumCopy,
} from "../../src/qemu/boot-analysis.js";
import {
  bootIso,
  createBlankDisk,
  DEFAULT_MARKER,
  type Firmware,
  type Guest,
  launchGuest,
  type Media,
  pressKeys,
  waitForScreen,
} from "../../src/qemu/index.js";
import { decodePngGray, type GrayImage, luminance } from "../../src/qemu/png.js";
import { parseHexColour } from "../../src/render/png.js";
import { EXAMPLE_PROFILE } from "../support/online-iso.js";

const WELCOME = ["Welcome to the ParticleOS 0.1.0 installer", ALL_REQUIREMENTS_MET];
const NOT_READY = [WAITING_FOR_MODULES, REQUIREMENTS_NOT_MET];

type Profile = "particleos" | "nimbus";
const cases: { firmware: Firmware; media: Media; profile: Profile }[] = [
  { firmware: "uefi", media: "cdrom", profile: "nimbus" },
  { firmware: "bios", media: "usb", profile: "particleos" },
  { firmware: "uefi-secureboot", media: "usb", profile: "particleos" },
];

/** The Nimbus ISO, built from the shared stage cache (only its own stages are new). */
async function nimbusIso(): Promise<string> {
  const build = await execa(
    "node",
    [
      "bin/atomiso.js",
      "--config",
      "examples/nimbus/atomiso.toml",
      "--log",
      "plain",
      "build",
      "--no-payload",
    ],
    { all: true, reject: false },
  );
  expect(build.exitCode, build.all).toBe(0);
  return "examples/nimbus/out/nimbus-2.0-nopayload.iso";
}

const screens: Record<Profile, { expect: (string | RegExp)[]; reject: (string | RegExp)[] }> = {
  particleos: { expect: WELCOME, reject: NOT_READY },
  nimbus: {
    expect: ["Welcome to the Nimbus 2.0 installer", ALL_REQUIREMENTS_MET],
    reject: [...NOT_READY, /ParticleOS/],
  },
};

async function blankTarget(name: string): Promise<string> {
  await mkdir("test-artifacts/boot", { recursive: true });
  const dir = await mkdtemp(join("test-artifacts/boot", `disk-${name}-`));
  // A blank 20 GiB disk, so the welcome page's storage requirement can pass.
  return createBlankDisk(join(dir, "target.qcow2"), 20);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Whether a screenshot shows the boot splash (src/render/live-splash.ts): the branding's
 * colour in every corner and, in the middle, the logo on that colour (the logo differs from
 * it over a good part of a 200 px square, the colour still shows around it). Nothing else the
 * boot shows passes: GRUB's menu has 16 colours, X with the session's background has at most
 * the pointer in the middle, Calamares' window covers the whole square.
 */
function showsSplash(shot: GrayImage, colour: number): boolean {
  const { width, height, pixels } = shot;
  const at = (x: number, y: number) => pixels[y * width + x] as number;
  const corners = [
    [2, 2],
    [width - 3, 2],
    [2, height - 3],
    [width - 3, height - 3],
  ] as const;
  if (corners.some(([x, y]) => Math.abs(at(x, y) - colour) > 8)) return false;
  const [cx, cy] = [Math.floor(width / 2), Math.floor(height / 2)];
  let logo = 0;
  for (let y = cy - 100; y < cy + 100; y++) {
    for (let x = cx - 100; x < cx + 100; x++) {
      if (Math.abs(at(x, y) - colour) > 40) logo++;
    }
  }
  // The example's 128 px logo differs from its colour almost everywhere (about 12,000 pixels);
  // a pointer is 200, a window 40,000.
  return logo > 4000 && logo < 30_000;
}

describe.concurrent("live ISO boots to the Calamares welcome page", () => {
  it("bios / cdrom, with the network and the screen reader in the session", async () => {
    const target = await blankTarget("bios-cdrom");
    const runDir = await mkdtemp(join("test-artifacts/boot", "bios-cdrom-session-"));
    let guest: Guest | undefined;
    try {
      guest = await launchGuest({
        firmware: "bios",
        iso: inject("isoPath"),
        media: "cdrom",
        disks: [{ path: target }],
        smp: 1,
        memoryMiB: 3072,
        runDir,
        // A NIC for NetworkManager to bring up: QEMU's user network, isolated (restrict=on); a
        // guest has a NIC only with a forward, and this one is never used.
        guestForwards: [{ guestAddress: "10.0.2.100", guestPort: 9, hostPort: 9 }],
      });
      const g = guest;
      const started = Date.now();
      // The example's [live] splash: a screenshot every 2 s until Calamares runs.
      const bootShots: string[] = [];
      let booting = true;
      const watching = (async () => {
        for (let i = 0; booting && !g.signal.aborted; i++) {
          const png = join(runDir, `boot-${String(i).padStart(3, "0")}.png`);
          if (
            await g.qmp.screendump(png).then(
              () => true,
              () => false,
            )
          )
            bootShots.push(png);
          await sleep(2000);
        }
      })();
      const marker = await g.serial
        .waitFor(DEFAULT_MARKER, { timeoutMs: 15 * 60_000, signal: g.signal })
        .finally(() => {
          booting = false;
        });
      await watching;
      expect(marker.line).toContain("firmware=bios");
      const sidebar = (await loadConfig(EXAMPLE_PROFILE)).config.branding.sidebar_background;
      // The colour as decodePngGray sees it.
      const colour = Math.round(luminance(...parseHexColour(sidebar)));
      const splash: string[] = [];
      for (const png of bootShots) {
        if (showsSplash(decodePngGray(await readFile(png)), colour)) splash.push(png);
      }
      console.log(
        `bios/cdrom: the splash on ${splash.length} of ${bootShots.length} screenshots taken while booting (${splash[0] ?? "none"})`,
      );
      expect(splash.length, "a screenshot of the boot splash while booting").toBeGreaterThan(0);
      const welcome = await waitForScreen(g.qmp, runDir, {
        name: "welcome",
        expect: WELCOME,
        reject: NOT_READY,
        timeoutMs: 10 * 60_000,
        intervalMs: 10_000,
        signal: g.signal,
      });
      expect(welcome.text).toContain("ParticleOS");
      console.log(
        `bios/cdrom: welcome page ready after ${((Date.now() - started) / 1000).toFixed(0)}s (${welcome.png})`,
      );

      // The look (docs/live-system.md): openbox maximised Calamares below the tray's band, and
      // installer-session painted the screen in the branding's colour. So the band at the top
      // is that colour and the bottom right corner is Calamares' own (light) window: a window of
      // its own size left the screen's colour there.
      const shot = decodePngGray(await readFile(welcome.png));
      const gray = (x: number, y: number) => shot.pixels[y * shot.width + x] as number;
      expect(Math.abs(gray(shot.width / 2, 2) - colour), "the band above Calamares").toBeLessThan(
        6,
      );
      expect(
        gray(shot.width - 3, shot.height - 3),
        "the screen's bottom right corner",
      ).toBeGreaterThan(150);

      // In this TCG guest the session keeps Calamares' images on the heap (QEMU's masked loads
      // fault past a mapping's end where a processor's do not; installer-session,
      // docs/live-system.md).
      await g.serial.waitFor(
        /calamares: atomiso: a QEMU guest without KVM: Qt's images stay on the heap \(GLIBC_TUNABLES=glibc\.malloc\.mmap_threshold=33554432, QT_XCB_NO_MITSHM=1\)/,
        { timeoutMs: 60_000, signal: g.signal },
      );

      // NetworkManager, not systemd-networkd, brought the wired NIC up (by DHCP).
      const network = await g.serial.waitFor(
        /ATOMISO-MARKER network [^\s:]+:ethernet:connected\b/,
        { timeoutMs: 5 * 60_000, signal: g.signal },
      );
      console.log(`bios/cdrom: ${network.line}`);

      // Super+Alt+S (openbox's binding) starts Orca; it must still run 6 s later.
      const since = g.serial.text().length;
      await pressKeys(g.qmp, "meta_l-alt-s");
      const reader = await g.serial.waitFor(/ATOMISO-MARKER screen-reader-running\b/, {
        since,
        timeoutMs: 4 * 60_000,
        signal: g.signal,
      });
      console.log(
        `bios/cdrom: screen reader running ${(reader.elapsedMs / 1000).toFixed(0)}s after the key`,
      );
      // The same key stops it.
      const running = g.serial.text().length;
      await pressKeys(g.qmp, "meta_l-alt-s");
      await g.serial.waitFor(/ATOMISO-MARKER screen-reader-stopped\b/, {
        since: running,
        timeoutMs: 2 * 60_000,
        signal: g.signal,
      });
    } finally {
      await guest?.stop();
    }
  });

  for (const { firmware, media, profile } of cases) {
    it(`${firmware} / ${media}${profile === "nimbus" ? " (the Nimbus profile)" : ""}`, async () => {
      const target = await blankTarget(`${firmware}-${media}`);
      const iso = profile === "nimbus" ? await nimbusIso() : inject("isoPath");
      const result = await bootIso({
        iso,
        firmware,
        media,
        smp: 1,
        memoryMiB: 3072,
        artifactsDir: "test-artifacts/boot",
        // Shown once every module has loaded and every requirement passed.
        expectText: screens[profile].expect,
        rejectText: screens[profile].reject,
        disks: [{ path: target }],
        // Screenshots from Calamares' requirements checked: the page is complete from then on
        // (drawn a moment later), so a few OCRs every 3 s instead of one every 10 s from the marker.
        screenReady: WELCOME_READY,
        screenshotIntervalMs: 3_000,
        // live-marker's report of the boot (printed below) follows the welcome page.
        afterScreen: { pattern: BOOT_REPORT_END, timeoutMs: 45_000 },
      });
      expect(result.firmwareMode).toBe(firmware === "bios" ? "bios" : "uefi");
      expect(result.markerLine).toContain(`secureboot=${firmware === "uefi-secureboot" ? 1 : 0}`);
      expect(result.ocrText).toContain(profile === "nimbus" ? "Nimbus" : "ParticleOS");
      // Calamares' log reaches the serial console (live-marker), requirements line included.
      expect(
        result.durations.screenReadyMs,
        "Calamares' requirements checked on ttyS0",
      ).toBeDefined();
      console.log(
        `${profile} ${firmware}/${media}: Calamares after ${(result.durations.markerMs / 1000).toFixed(0)}s, requirements checked after ${((result.durations.screenReadyMs ?? 0) / 1000).toFixed(0)}s, welcome page ready after ${((result.durations.markerMs + result.durations.screenMs) / 1000).toFixed(0)}s (${result.finalScreenshot})`,
      );
      // The initrd had live-boot copy the medium to memory where the guest has the memory GRUB
      // names (installer-scripts/initramfs/toram-in-vm), whatever the firmware and medium: the
      // example's 3 GiB guests do (Nimbus asks for 2 GiB of installer memory, so its need is
      // close to a 3 GiB guest's memory: whichever way, the decision must match the numbers).
      const serial = await readFile(result.serialLog, "utf8");
      const copy = mediumCopy(serial);
      expect(copy, "the live system's report of the medium copy").toBeDefined();
      const { copied, memoryMiB, needMiB, mountedOn } = copy as MediumCopy;
      expect(memoryMiB).toBeDefined();
      expect(copied).toBe((memoryMiB as number) >= (needMiB as number));
      expect(mountedOn === "tmpfs").toBe(copied);
      if (profile === "particleos") expect(copied).toBe(true);
      // A TCG guest: the initrd kept programs' addresses fixed for the live system
      // (installer-scripts/initramfs/tcg-fixed-addresses).
      expect(serial, "the live system's report of address randomisation").toMatch(
        /^ATOMISO-BOOT address randomisation off \(QEMU without KVM/m,
      );
      // Where the time went inside the guest (reported, not asserted: it varies with the load).
      const analysis = bootAnalysis(serial);
      console.log(
        `${profile} ${firmware}/${media}: ${analysis ? describeBootAnalysis(analysis) : "no boot analysis on the serial console yet"}`,
      );
    });
  }
});
