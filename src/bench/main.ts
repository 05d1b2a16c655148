// `npm run bench`: measures the ISO pipeline's speed and size choices as ratios against a
// baseline run in the same invocation (absolute seconds vary from machine to machine; ratios
// measured side by side do not). Not a test: it prints figures and asserts nothing.
//
//   1. rebuild after a live-configuration change (new hostname) against a full re-squash of
//      the live root, which a single-squashfs design would pay on every such change;
//   2. rebuild with nothing changed against the same baseline;
//   3. the live system's size (--no-payload ISO, base squashfs, kernel and initrd) against the
//      figures recorded before issue 15 trimmed the live root, and its biggest packages;
//   4. squashfs compressors on the cached live root against the default (zstd level 15);
//   5. the example ISO's size with its image, and its boot to the welcome page on SeaBIOS and
//      OVMF in TCG guests with 3 GiB (the medium copied to memory), against SeaBIOS in a guest
//      just below the copy's need (the medium left on the CD) (boot-times.ts; --skip-boot leaves
//      it out, --only-boot runs just this; --boot-rounds N boots each N times, taking turns,
//      and prints the medians);
//   6. the install job (ostree backend) of the example image's payload on a loop disk, phase by
//      phase: gzip and zstd layers with this checkout's deploy scripts against gzip with the
//      scripts before issue 15 (install-job.ts). --only-install-job runs just this one.
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { runPlan } from "../build/runner.js";
import { loadConfig } from "../config/load.js";
import { silentReporter } from "../log/reporter.js";
import { defaultCacheDir, packageRoot } from "../paths.js";
import { planIso } from "../plan/plan.js";
import { BASE_LAYER_EXCLUDES } from "../stages/squashfs.js";
import type { StageId } from "../stages/stage.js";
import { run } from "../tools/exec.js";
import { type MksquashfsOptions, mksquashfsArgv } from "../tools/mksquashfs.js";
import { guestFigures } from "./boot-times.js";
import { findPayload, formatInstallJob, measureInstallJob } from "./install-job.js";
import { livePackageSizes } from "./live-root-report.js";

interface Figure {
  name: string;
  seconds: number;
  bytes?: number;
  detail?: string;
}

const COMPRESSORS: {
  name: string;
  compression: MksquashfsOptions["compression"];
  level?: number;
}[] = [
  { name: "zstd-15 (default)", compression: "zstd", level: 15 },
  { name: "zstd-3", compression: "zstd", level: 3 },
  { name: "xz", compression: "xz" },
  { name: "lz4", compression: "lz4" },
];

const MiB = 1024 * 1024;

function ratio(value: number, base: number): string {
  return base > 0 ? `${(value / base).toFixed(2)}×` : "n/a";
}

function printTable(title: string, figures: Figure[], withSize: boolean): void {
  const [base] = figures;
  if (!base) return;
  console.log(`\n${title} (baseline: ${base.name})`);
  for (const f of figures) {
    const time = `${f.seconds.toFixed(1).padStart(7)} s  ${ratio(f.seconds, base.seconds).padStart(6)} time`;
    const size =
      withSize && f.bytes !== undefined && base.bytes !== undefined
        ? `  ${(f.bytes / MiB).toFixed(0).padStart(5)} MiB  ${ratio(f.bytes, base.bytes).padStart(6)} size`
        : "";
    console.log(`  ${f.name.padEnd(34)}${time}${size}${f.detail ? `  (${f.detail})` : ""}`);
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const started = process.hrtime.bigint();
  const value = await fn();
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, value };
}

async function rebuilds(configFile: string, cacheDir: string, scratch: string): Promise<string> {
  const loaded = await loadConfig(configFile);
  const build = async (rebuild: StageId[] = []) => {
    // The bench's ISOs go to scratch: the profile's own output stays as it was.
    const plan = {
      ...(await planIso(loaded, { noPayload: true })),
      output: join(scratch, "bench.iso"),
    };
    const { seconds, value } = await timed(() =>
      runPlan(plan, { cacheDir, reporter: silentReporter, rebuild }),
    );
    const built = value.stages.filter((s) => !s.cached).map((s) => s.id);
    return { seconds, built, result: value };
  };

  console.log("bench: priming the stage cache (not measured)…");
  const primed = await build();
  await liveSystemSize(primed.result, join(scratch, "bench.iso"));
  const bootstrap = primed.result.stages.find((s) => s.id === "bootstrap");
  if (!bootstrap) throw new Error("the plan has no bootstrap stage");

  const full = await build(["squashfs-base", "squashfs-config", "iso"]);
  const original = loaded.config.live.hostname;
  loaded.config.live.hostname = `bench-${Date.now().toString(36)}`;
  const changed = await build();
  loaded.config.live.hostname = original;
  const unchanged = await build();

  printTable(
    "ISO rebuilds, --no-payload",
    [
      {
        name: "full re-squash of the live root",
        seconds: full.seconds,
        detail: full.built.join(", "),
      },
      {
        name: "live-config change (hostname)",
        seconds: changed.seconds,
        detail: changed.built.join(", "),
      },
      {
        name: "nothing changed",
        seconds: unchanged.seconds,
        detail: unchanged.built.join(", ") || "all cached",
      },
    ],
    false,
  );
  return join(bootstrap.dir, "root");
}

/**
 * The example's live system before issue 15 (podman, skopeo, Mesa with LLVM, Ghostscript,
 * documentation and all locale data in the live root), measured with the same build on this
 * project's CI machine: a recorded baseline, not this run's (that would need the old package
 * set and hooks).
 */
const LIVE_BEFORE = {
  iso: 576_856_064,
  base: 515_043_328,
  kernelInitrd: 12_171_200 + 41_558_249,
};

async function liveSystemSize(
  result: { stages: { id: string; dir: string }[] },
  iso: string,
): Promise<void> {
  const dir = (id: string) => result.stages.find((s) => s.id === id)?.dir ?? "";
  const size = async (...paths: string[]) => {
    let total = 0;
    for (const p of paths) total += (await stat(p)).size;
    return total;
  };
  const now = {
    iso: await size(iso),
    base: await size(join(dir("squashfs-base"), "00-base.squashfs")),
    kernelInitrd: await size(join(dir("kernel"), "vmlinuz"), join(dir("kernel"), "initrd.img")),
  };
  console.log("\nlive system (--no-payload ISO; baseline: recorded before issue 15)");
  for (const [name, key] of [
    ["ISO without payload", "iso"],
    ["00-base.squashfs", "base"],
    ["kernel + initrd", "kernelInitrd"],
  ] as const) {
    console.log(
      `  ${name.padEnd(22)}${(now[key] / MiB).toFixed(1).padStart(8)} MiB  (was ${(LIVE_BEFORE[key] / MiB).toFixed(1)} MiB, ${ratio(now[key], LIVE_BEFORE[key])})`,
    );
  }
  const packages = await livePackageSizes(join(dir("bootstrap"), "root"));
  const total = packages.reduce((sum, p) => sum + p.bytes, 0);
  console.log(
    `\nlive root: ${packages.length} packages, ${(total / MiB).toFixed(0)} MiB in their files; the biggest:`,
  );
  for (const p of packages.slice(0, 25))
    console.log(`  ${(p.bytes / MiB).toFixed(1).padStart(7)} MiB  ${p.name}`);
}

async function compressors(root: string, scratch: string): Promise<void> {
  const figures: Figure[] = [];
  for (const c of COMPRESSORS) {
    console.log(`bench: mksquashfs ${c.name} of ${root}…`);
    const output = join(scratch, "live.squashfs");
    const argv = mksquashfsArgv({
      source: root,
      output,
      compression: c.compression,
      ...(c.level !== undefined ? { level: c.level } : {}),
      quiet: true,
      exclude: BASE_LAYER_EXCLUDES,
    });
    const { seconds } = await timed(() => run(argv));
    figures.push({ name: c.name, seconds, bytes: (await stat(output)).size });
    await rm(output, { force: true });
  }
  printTable("squashfs of the live root", figures, true);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: "string", default: join(packageRoot, "examples/particleos/atomiso.toml") },
      "cache-dir": { type: "string" },
      "skip-compression": { type: "boolean", default: false },
      "skip-boot": { type: "boolean", default: false },
      "skip-install-job": { type: "boolean", default: false },
      "only-install-job": { type: "boolean", default: false },
      "only-boot": { type: "boolean", default: false },
      /** Boots of each kind, taking turns; the medians are printed (one boot varies 10-20 %). */
      "boot-rounds": { type: "string", default: "1" },
      /** The OCI layout to install; default the newest payload stage in the cache. */
      payload: { type: "string" },
    },
  });
  if (process.getuid?.() !== 0) throw new Error("the benchmark builds ISOs: run it as root");
  const cacheDir = resolve(values["cache-dir"] ?? defaultCacheDir());
  const onlyBoot = values["only-boot"];
  const rounds = Number(values["boot-rounds"]);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) {
    throw new Error(`--boot-rounds ${values["boot-rounds"]}: a whole number of boots from 1 to 20`);
  }
  if (!values["only-install-job"]) {
    const scratch = await mkdtemp(join(tmpdir(), "atomiso-bench-"));
    try {
      if (!onlyBoot) {
        const root = await rebuilds(resolve(values.config), cacheDir, scratch);
        if (!values["skip-compression"]) await compressors(root, scratch);
      }
      if (onlyBoot || !values["skip-boot"]) {
        await guestFigures(resolve(values.config), cacheDir, scratch, rounds);
      }
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  if (!onlyBoot && !values["skip-install-job"]) await installJob(values.payload, cacheDir);
}

async function installJob(payloadOption: string | undefined, cacheDir: string): Promise<void> {
  const payload = payloadOption ? resolve(payloadOption) : await findPayload(cacheDir);
  if (!payload) {
    console.log(
      `
install job: no payload in ${cacheDir}/stages (build the example ISO first: npm run iso), or pass --payload <OCI layout>`,
    );
    return;
  }
  console.log(`bench: install job of ${payload}`);
  const figures = await measureInstallJob(payload, (line) => console.log(line));
  for (const line of formatInstallJob(figures)) console.log(line);
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
