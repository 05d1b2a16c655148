// The bench's guest figures: the example ISO (image embedded) booted on SeaBIOS and on OVMF,
// one TCG guest at a time with 2 vCPUs and 3 GiB, as issue 15 measured it (the boot tier runs
// two guests of 1 vCPU side by side, so its times are higher), each until
// the serial marker (Calamares running) and then until OCR sees the welcome page with every
// requirement met. The baseline is issue 15's measurement of the same boot before the live
// system was trimmed; guests cannot be timed side by side with an old ISO in one run without
// keeping that ISO's whole stage cache.
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { runPlan } from "../build/runner.js";
import {
  ALL_REQUIREMENTS_MET,
  REQUIREMENTS_NOT_MET,
  WAITING_FOR_MODULES,
} from "../cli/commands/test-boot.js";
import { loadConfig } from "../config/load.js";
import { silentReporter } from "../log/reporter.js";
import { planIso } from "../plan/plan.js";
import { bootIso } from "../qemu/boot.js";
import { type BootAnalysis, bootAnalysis, describeBootAnalysis } from "../qemu/boot-analysis.js";
import { createBlankDisk } from "../qemu/disk.js";

/** The example ISO with its pinned image, issue 15 (before the live system was trimmed). */
const EXAMPLE_ISO_BEFORE_MIB = 865;
/** Seconds from QEMU's start to the welcome page, issue 15 (2 vCPUs, 3 GiB, CD drive). */
const WELCOME_BEFORE = { bios: 121, uefi: 138 } as const;

export interface BootTime {
  firmware: "bios" | "uefi";
  markerSeconds: number;
  welcomeSeconds: number;
  /** systemd's own account of the boot, when the live system reported one. */
  analysis?: BootAnalysis;
}

/** Builds the example ISO (payload embedded; stages from the cache) into `scratch`, prints its
 *  size and boots it. */
export async function guestFigures(
  configFile: string,
  cacheDir: string,
  scratch: string,
): Promise<BootTime[]> {
  const loaded = await loadConfig(configFile);
  const iso = join(scratch, "example.iso");
  console.log("bench: building the example ISO with its image…");
  await runPlan(
    { ...(await planIso(loaded)), output: iso },
    { cacheDir, reporter: silentReporter },
  );
  const mib = (await stat(iso)).size / 2 ** 20;
  console.log(
    `\nexample ISO with its image: ${mib.toFixed(0)} MiB (was ${EXAMPLE_ISO_BEFORE_MIB} MiB, ${(mib / EXAMPLE_ISO_BEFORE_MIB).toFixed(2)}×)`,
  );
  return bootTimes(iso, loaded.config.product.name, scratch);
}

export async function bootTimes(
  iso: string,
  product: string,
  scratch: string,
): Promise<BootTime[]> {
  const times: BootTime[] = [];
  for (const firmware of ["bios", "uefi"] as const) {
    console.log(`bench: booting the example ISO on ${firmware} to the welcome page…`);
    // A blank 20 GiB disk, so the welcome page's storage requirement passes.
    const target = await createBlankDisk(join(scratch, `boot-${firmware}.qcow2`), 20);
    const result = await bootIso({
      iso,
      firmware,
      media: "cdrom",
      smp: 2,
      memoryMiB: 3072,
      artifactsDir: join(scratch, "boot"),
      expectText: [product, ALL_REQUIREMENTS_MET],
      rejectText: [WAITING_FOR_MODULES, REQUIREMENTS_NOT_MET],
      screenshotIntervalMs: 3000,
      disks: [{ path: target }],
    });
    times.push({
      firmware,
      markerSeconds: result.durations.markerMs / 1000,
      welcomeSeconds: (result.durations.markerMs + result.durations.screenMs) / 1000,
      analysis: bootAnalysis(await readFile(result.serialLog, "utf8")),
    });
  }
  console.log(
    "\nboot to the welcome page (2 vCPUs TCG, one guest; baseline: issue 15's measurement)",
  );
  for (const t of times) {
    const before = WELCOME_BEFORE[t.firmware];
    console.log(
      `  ${(t.firmware === "bios" ? "SeaBIOS" : "OVMF").padEnd(10)}Calamares running ${t.markerSeconds.toFixed(0).padStart(4)} s, welcome page ${t.welcomeSeconds.toFixed(0).padStart(4)} s  (was ${before} s, ${(t.welcomeSeconds / before).toFixed(2)}×)`,
    );
    // Inside the guest: systemd's phases and slowest units (the rest is firmware and Calamares).
    if (t.analysis) console.log(describeBootAnalysis(t.analysis).replace(/^/gm, "    "));
  }
  return times;
}
