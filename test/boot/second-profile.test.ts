// The Nimbus profile's ISO boots to a welcome page with its own product name.
import { mkdir, mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { expect, it } from "vitest";
import {
  ALL_REQUIREMENTS_MET,
  REQUIREMENTS_NOT_MET,
  WAITING_FOR_MODULES,
} from "../../src/cli/commands/test-boot.js";
import { bootIso, createBlankDisk } from "../../src/qemu/index.js";

it("Nimbus boots to its own welcome page (uefi / cdrom)", async () => {
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
  await mkdir("test-artifacts/boot", { recursive: true });
  const dir = await mkdtemp(join("test-artifacts/boot", "disk-nimbus-"));
  const result = await bootIso({
    iso: "examples/nimbus/out/nimbus-2.0-nopayload.iso",
    firmware: "uefi",
    media: "cdrom",
    smp: 2,
    artifactsDir: "test-artifacts/boot",
    disks: [{ path: await createBlankDisk(join(dir, "target.qcow2"), 20) }],
    expectText: ["Welcome to the Nimbus 2.0 installer", ALL_REQUIREMENTS_MET],
    rejectText: [WAITING_FOR_MODULES, REQUIREMENTS_NOT_MET, /ParticleOS/],
  });
  expect(result.firmwareMode).toBe("uefi");
  console.log(
    `nimbus uefi/cdrom: welcome page after ${((result.durations.markerMs + result.durations.screenMs) / 1000).toFixed(0)}s (${result.finalScreenshot})`,
  );
});
