// The bench's guest figures: the example ISO (image embedded) booted on SeaBIOS and on OVMF,
// one TCG guest at a time with 2 vCPUs and 3 GiB, as issue 15 measured it (the boot tier runs
// two guests of 1 vCPU side by side, so its times are higher), each until
// the serial marker (Calamares running), then Calamares' requirements checked (its log on the
// serial console: the welcome page's own marker), then until OCR sees the welcome page with
// every requirement met (screenshots start at the requirements, so the OCR does not take host
// CPU from the guest before the page can be there). The baselines: issue 15's measurement of
// the same boot before the live system was trimmed (guests cannot be timed side by side with an
// old ISO in one run without keeping that ISO's whole stage cache), and, from the same run,
// SeaBIOS in a guest just below the memory a copy of the medium needs, so the medium stays on
// the CD.
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { runPlan } from "../build/runner.js";
import {
  ALL_REQUIREMENTS_MET,
  REQUIREMENTS_NOT_MET,
  WAITING_FOR_MODULES,
  WELCOME_READY,
} from "../cli/commands/test-boot.js";
import { loadConfig } from "../config/load.js";
import { AtomisoError } from "../errors.js";
import { silentReporter } from "../log/reporter.js";
import { planIso } from "../plan/plan.js";
import { bootIso } from "../qemu/boot.js";
import {
  BOOT_REPORT_END,
  type BootAnalysis,
  bootAnalysis,
  describeBootAnalysis,
  mediumCopy,
} from "../qemu/boot-analysis.js";
import { createBlankDisk } from "../qemu/disk.js";
import { isoBoot } from "../qemu/install.js";
import { withDevRegistryFor } from "../registry/dev-registry.js";
import { toramNeedMiB } from "../render/grub-cfg.js";

/** The example ISO with its pinned image, issue 15 (before the live system was trimmed). */
const EXAMPLE_ISO_BEFORE_MIB = 865;
/** Seconds from QEMU's start to the welcome page, issue 15 (2 vCPUs, 3 GiB, CD drive). */
const WELCOME_BEFORE = { bios: 121, uefi: 138 } as const;

export interface BootTime {
  firmware: "bios" | "uefi";
  memoryMiB: number;
  /** The live system reported the medium copied to memory (ATOMISO-BOOT medium copy yes). */
  mediumInMemory: boolean;
  markerSeconds: number;
  /** Calamares' requirements checked (serial): the welcome page is complete from then on. */
  readySeconds?: number;
  /** The OCR's first sight of the complete welcome page. */
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
  rounds = 1,
): Promise<BootTime[]> {
  const loaded = await loadConfig(configFile);
  const iso = join(scratch, "example.iso");
  console.log("bench: building the example ISO with its image…");
  // The example's image is pinned on the local development registry, started for the build
  // when it is not running (a payload stage already in the cache does not ask it).
  await withDevRegistryFor(loaded.config.image?.reference ?? "", cacheDir, async () =>
    runPlan({ ...(await planIso(loaded)), output: iso }, { cacheDir, reporter: silentReporter }),
  );
  const mib = (await stat(iso)).size / 2 ** 20;
  console.log(
    `\nexample ISO with its image: ${mib.toFixed(0)} MiB (was ${EXAMPLE_ISO_BEFORE_MIB} MiB, ${(mib / EXAMPLE_ISO_BEFORE_MIB).toFixed(2)}×)`,
  );
  return bootTimes(iso, loaded.config.product.name, scratch, rounds);
}

/** One guest to the welcome page. */
async function bootOnce(
  iso: string,
  product: string,
  scratch: string,
  firmware: "bios" | "uefi",
  memoryMiB: number,
  name: string,
): Promise<BootTime> {
  // A blank 20 GiB disk, so the welcome page's storage requirement passes.
  const target = await createBlankDisk(join(scratch, `boot-${name}.qcow2`), 20);
  const boot = (artifacts: string) =>
    bootIso({
      iso,
      firmware,
      media: "cdrom",
      smp: 2,
      memoryMiB,
      artifactsDir: artifacts,
      expectText: [product, ALL_REQUIREMENTS_MET],
      rejectText: [WAITING_FOR_MODULES, REQUIREMENTS_NOT_MET],
      screenshotIntervalMs: 3000,
      // The OCR (a second of host CPU a screenshot) starts once the page can be complete.
      screenReady: WELCOME_READY,
      disks: [{ path: target }],
      // The live system's report (systemd's account, the CPU) comes after the welcome page.
      afterScreen: { pattern: BOOT_REPORT_END, timeoutMs: 120_000 },
    });
  // A guest whose kernel panicked measured nothing: booted once more, and said so (a 2-vCPU
  // TCG guest's kernel has died of QEMU's cross-vCPU code patching race, see KERNEL_PANIC).
  const result = await boot(join(scratch, "boot")).catch(async (err: unknown) => {
    if (!(err instanceof AtomisoError) || !err.message.includes("kernel panicked")) throw err;
    console.log(
      `bench: the ${name} guest's kernel panicked, booting it again:\n${err.message.split("\n")[0]}`,
    );
    return boot(join(scratch, `boot-${name}-again`));
  });
  const serial = await readFile(result.serialLog, "utf8");
  return {
    firmware,
    memoryMiB,
    mediumInMemory: mediumCopy(serial)?.copied ?? false,
    markerSeconds: result.durations.markerMs / 1000,
    ...(result.durations.screenReadyMs !== undefined
      ? { readySeconds: result.durations.screenReadyMs / 1000 }
      : {}),
    welcomeSeconds: (result.durations.markerMs + result.durations.screenMs) / 1000,
    analysis: bootAnalysis(serial),
  };
}

/** The welcome page by its serial marker (issue 15's measure), else the OCR's sight of it. */
const welcome = (t: BootTime) => t.readySeconds ?? t.welcomeSeconds;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const at = (i: number) => sorted[i] ?? Number.NaN;
  return sorted.length % 2 ? at(mid) : (at(mid - 1) + at(mid)) / 2;
}

interface BootKind {
  label: string;
  firmware: "bios" | "uefi";
  memoryMiB: number;
  name: string;
}

/**
 * SeaBIOS and OVMF with 3 GiB, where the live system copies the example's medium to memory,
 * then SeaBIOS again in a guest just below the copy's need: the medium left on the CD, the
 * same-run baseline of the copy (installer-scripts/initramfs/toram-in-vm). With rounds > 1 the
 * three boots take turns and the medians are printed too: one TCG boot varies by 10-20 % on a
 * shared host (docs/live-system.md, Boot).
 */
export async function bootTimes(
  iso: string,
  product: string,
  scratch: string,
  rounds = 1,
): Promise<BootTime[]> {
  const need = toramNeedMiB((await isoBoot(iso, join(scratch, "iso-boot"))).args);
  // MemTotal is about 110 MiB below the guest's memory: 256 MiB less keeps it under the need.
  const onCd = need !== undefined && need - 256 >= 1536 ? need - 256 : undefined;
  const kinds: BootKind[] = [
    { label: "SeaBIOS", firmware: "bios", memoryMiB: 3072, name: "bios" },
    { label: "OVMF", firmware: "uefi", memoryMiB: 3072, name: "uefi" },
  ];
  if (onCd !== undefined) {
    kinds.push({ label: "SeaBIOS, CD", firmware: "bios", memoryMiB: onCd, name: "bios-on-cd" });
  }
  const byKind = new Map<string, BootTime[]>(kinds.map((k) => [k.name, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const k of kinds) {
      const where =
        k.name === "bios-on-cd" ? ` with ${k.memoryMiB} MiB (the medium stays on the CD)` : "";
      const which = rounds > 1 ? ` (round ${round} of ${rounds})` : "";
      console.log(`bench: booting the example ISO on ${k.firmware}${where}${which}…`);
      const name = rounds > 1 ? `${k.name}-${round}` : k.name;
      const time = await bootOnce(iso, product, scratch, k.firmware, k.memoryMiB, name);
      byKind.get(k.name)?.push(time);
    }
  }
  console.log(
    "\nboot to the welcome page by its serial marker, Calamares' requirements checked (2 vCPUs TCG, one guest; baselines: issue 15's measurement, and the medium left on the CD in this run)",
  );
  for (const k of kinds) {
    for (const t of byKind.get(k.name) ?? []) {
      const medium = `medium ${t.mediumInMemory ? "in memory" : "on the CD"}`;
      const before = WELCOME_BEFORE[t.firmware];
      const versus =
        k.name === "bios-on-cd"
          ? `${t.memoryMiB} MiB, below the copy's ${need} MiB: ${medium}${t.mediumInMemory ? " (unexpected)" : ""}`
          : `${t.memoryMiB} MiB, ${medium}; was ${before} s, ${(welcome(t) / before).toFixed(2)}×`;
      const seen =
        t.readySeconds !== undefined
          ? ` (requirements checked; OCR saw it at ${t.welcomeSeconds.toFixed(0)} s)`
          : " (OCR)";
      console.log(
        `  ${k.label.padEnd(12)}Calamares running ${t.markerSeconds.toFixed(0).padStart(4)} s, welcome page ${welcome(t).toFixed(0).padStart(4)} s${seen}  (${versus})`,
      );
      // Inside the guest: systemd's phases and slowest units (the rest is firmware and Calamares).
      if (t.analysis) console.log(describeBootAnalysis(t.analysis).replace(/^/gm, "    "));
    }
  }
  // Medians (of one boot each when rounds is 1), with the copy's gain against the CD boot.
  const medians = new Map(
    kinds.map((k) => [k.name, median((byKind.get(k.name) ?? []).map(welcome))]),
  );
  const cd = medians.get("bios-on-cd");
  console.log(`\nwelcome page, median of ${rounds} boot${rounds > 1 ? "s" : ""} each:`);
  for (const k of kinds) {
    const m = medians.get(k.name) ?? Number.NaN;
    const before = WELCOME_BEFORE[k.firmware];
    const against =
      k.name === "bios-on-cd"
        ? "the medium on the CD: the same-run baseline"
        : `was ${before} s, ${(m / before).toFixed(2)}×${k.firmware === "bios" && cd !== undefined ? `; ${(m / cd).toFixed(2)}× of the CD boot` : ""}`;
    console.log(`  ${k.label.padEnd(12)}${m.toFixed(0).padStart(4)} s  (${against})`);
  }
  return kinds.flatMap((k) => byKind.get(k.name) ?? []);
}
