// The example ISO boots to the Calamares welcome page on SeaBIOS and OVMF, from a CD drive
// and as a plain disk (the dd'ed USB stick case), with and without Secure Boot.

import { mkdir, mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import {
  ALL_REQUIREMENTS_MET,
  REQUIREMENTS_NOT_MET,
  WAITING_FOR_MODULES,
} from "../../src/cli/commands/test-boot.js";
import { bootIso, createBlankDisk, type Firmware, type Media } from "../../src/qemu/index.js";

const cases: { firmware: Firmware; media: Media }[] = [
  { firmware: "bios", media: "cdrom" },
  { firmware: "uefi", media: "cdrom" },
  { firmware: "bios", media: "usb" },
  { firmware: "uefi-secureboot", media: "usb" },
];

describe.concurrent("live ISO boots to the Calamares welcome page", () => {
  for (const { firmware, media } of cases) {
    it(`${firmware} / ${media}`, async () => {
      await mkdir("test-artifacts/boot", { recursive: true });
      const dir = await mkdtemp(join("test-artifacts/boot", `disk-${firmware}-${media}-`));
      // A blank 20 GiB disk, so the welcome page's storage requirement can pass.
      const target = await createBlankDisk(join(dir, "target.qcow2"), 20);
      const result = await bootIso({
        iso: inject("isoPath"),
        firmware,
        media,
        smp: 1,
        memoryMiB: 3072,
        artifactsDir: "test-artifacts/boot",
        // Shown once every module has loaded and every requirement passed.
        expectText: ["Welcome to the ParticleOS 0.1.0 installer", ALL_REQUIREMENTS_MET],
        rejectText: [WAITING_FOR_MODULES, REQUIREMENTS_NOT_MET],
        disks: [{ path: target }],
      });
      expect(result.firmwareMode).toBe(firmware === "bios" ? "bios" : "uefi");
      expect(result.markerLine).toContain(`secureboot=${firmware === "uefi-secureboot" ? 1 : 0}`);
      expect(result.ocrText).toContain("ParticleOS");
      console.log(
        `${firmware}/${media}: Calamares after ${(result.durations.markerMs / 1000).toFixed(0)}s, welcome page ready after ${((result.durations.markerMs + result.durations.screenMs) / 1000).toFixed(0)}s (${result.finalScreenshot})`,
      );
    });
  }
});
