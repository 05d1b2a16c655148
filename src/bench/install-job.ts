// The install job's phases (the ostree deploy backend) for the example image, measured on this
// host: the image's embedded payload written with gzip layers (`atomiso push`'s default) and
// with zstd layers (image.compression = "zstd"), installed by the deploy scripts of this checkout
// and, as the baseline, by those of the commit before issue 15 (item 3) changed them. Each
// install goes to a fresh sparse disk on a loop device, GRUB for BIOS included, in a chroot of
// the image itself (its ostree and grub, as the installers use the live system's) inside a
// private mount namespace. Host seconds are far below a TCG guest's; the ratios between the
// variants, measured side by side, are the figure.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { safeRemove } from "../mounts/safe-remove.js";
import { packageRoot } from "../paths.js";
import { writeDeployHarness } from "../tools/deploy-harness.js";
import { run } from "../tools/exec.js";
import { inPrivateMountNamespace } from "../tools/namespace.js";

/** The last commit whose deploy scripts are the ones the 172 s TCG figure was measured with. */
export const SCRIPTS_BEFORE_ISSUE_15 = "93a41f0dc8a632578143bce82ece9e17250b119e";

/** The phases ostree-deploy reports (atomiso-timing lines), in the order they run. */
export const PHASES = [
  "verify",
  "unpack",
  "commit",
  "deploy",
  "layout-store",
  "bootloader",
  "sync",
  "total",
] as const;

/** `atomiso-timing <phase> <seconds>` lines of a backend's output. */
export function parseTimings(stdout: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of stdout.matchAll(/^atomiso-timing (\S+) ([\d.]+)$/gm)) {
    if (m[1] && m[2]) out[m[1]] = Number(m[2]);
  }
  return out;
}

interface Variant {
  name: string;
  scripts: string;
  layout: string;
  digest: string;
}

export interface InstallJobFigures {
  name: string;
  timings: Record<string, number>;
}

async function onlyManifest(layout: string): Promise<string> {
  const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8")) as {
    manifests?: { digest?: string }[];
  };
  const digest = index.manifests?.[0]?.digest;
  if (!digest || index.manifests?.length !== 1) {
    throw new Error(`${layout}/index.json must list exactly one image`);
  }
  return digest;
}

/** The newest payload stage's OCI layout in the stage cache, if an ISO was built. */
export async function findPayload(cacheDir: string): Promise<string | undefined> {
  const stages = join(cacheDir, "stages");
  if (!existsSync(stages)) return undefined;
  let best: { dir: string; mtime: number } | undefined;
  for (const name of await readdir(stages)) {
    const dir = join(stages, name, "payload");
    if (!name.startsWith("payload-") || !existsSync(join(dir, "index.json"))) continue;
    const { mtimeMs } = await stat(dir);
    if (!best || mtimeMs > best.mtime) best = { dir, mtime: mtimeMs };
  }
  return best?.dir;
}

/** A sparse disk on a loop device: bios_grub, ESP, /boot, root (the installers' GPT layout). */
async function makeDisk(image: string): Promise<string> {
  await writeFile(image, "");
  await run(["truncate", "-s", "8G", image]);
  await run([
    "sgdisk",
    "--new=1:2048:+1M",
    "--typecode=1:21686148-6449-6E6F-744E-656564454649",
    "--new=2:0:+256M",
    "--typecode=2:C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
    "--new=3:0:+1024M",
    "--typecode=3:0FC63DAF-8483-4772-8E79-3D69D8477DE4",
    "--new=4:0:0",
    "--typecode=4:4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
    image,
  ]);
  const loop = (await run(["losetup", "--find", "--show", image])).stdout.trim();
  await run(["partx", "--delete", loop], { okExitCodes: [0, 1] });
  await run(["partx", "--add", loop]);
  for (let i = 0; i < 50 && !existsSync(`${loop}p4`); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  return loop;
}

async function formatDisk(loop: string): Promise<void> {
  await run(["mkfs.fat", "-F", "32", `${loop}p2`]);
  await run(["mkfs.ext4", "-q", "-F", "-L", "boot", `${loop}p3`]);
  await run(["mkfs.ext4", "-q", "-F", "-L", "root", `${loop}p4`]);
}

/**
 * Installs the payload three ways on one loop disk (reformatted before each) and returns the
 * phases of each: old scripts + gzip (the baseline), new scripts + gzip, new scripts + zstd.
 */
export async function measureInstallJob(
  payload: string,
  log: (line: string) => void,
): Promise<InstallJobFigures[]> {
  // The disk and the trees want room: /var/tmp, not a RAM-backed /tmp.
  const scratch = await mkdtemp("/var/tmp/atomiso-bench-install-");
  let loop: string | undefined;
  try {
    const scripts = join(packageRoot, "installer-scripts/deploy");
    const payloadDigest = await onlyManifest(payload);

    log("bench: unpacking the image as the tree the backend runs in (not measured)…");
    const tools = join(scratch, "tools-root");
    await mkdir(tools);
    const { stdout } = await run([join(scripts, "verify-payload"), payload, payloadDigest]);
    for (const line of stdout.split("\n")) {
      const [kind, type, path] = line.split("\t");
      if (kind === "layer" && type && path) {
        await run([join(scripts, "unpack-layer"), tools, type, path]);
      }
    }

    // Both compressions from the one payload, whichever the profile pushed.
    const recompressed = async (format: "gzip" | "zstd") => {
      log(`bench: writing the payload with ${format} layers (not measured)…`);
      const dir = join(scratch, `layout-${format}`);
      await run([
        "skopeo",
        "copy",
        "--quiet",
        "--dest-compress",
        "--dest-compress-format",
        format,
        `oci:${payload}`,
        `oci:${dir}:bench`,
      ]);
      return { dir, digest: await onlyManifest(dir) };
    };
    const gzip = await recompressed("gzip");
    const zstd = await recompressed("zstd");

    const variants: Variant[] = [];
    const before = join(scratch, "before");
    await mkdir(before);
    const archive = await run(
      [
        "git",
        "-C",
        packageRoot,
        "archive",
        "--format=tar",
        "--output",
        join(scratch, "before.tar"),
        SCRIPTS_BEFORE_ISSUE_15,
        "installer-scripts/deploy",
      ],
      { okExitCodes: [0, 1, 128] },
    );
    if (archive.exitCode === 0) {
      await run(["tar", "-xf", join(scratch, "before.tar"), "-C", before]);
      variants.push({
        name: `gzip, scripts of ${SCRIPTS_BEFORE_ISSUE_15.slice(0, 7)} (before)`,
        scripts: join(before, "installer-scripts/deploy"),
        layout: gzip.dir,
        digest: gzip.digest,
      });
    } else {
      log(
        `bench: no git history (${SCRIPTS_BEFORE_ISSUE_15.slice(0, 7)}): the baseline is this checkout's gzip install`,
      );
    }
    variants.push(
      { name: "gzip, these scripts", scripts, layout: gzip.dir, digest: gzip.digest },
      { name: "zstd, these scripts", scripts, layout: zstd.dir, digest: zstd.digest },
    );

    const harness = await writeDeployHarness(scratch);
    const out = join(scratch, "out");
    await mkdir(out);
    loop = await makeDisk(join(scratch, "disk.img"));
    const figures: InstallJobFigures[] = [];
    for (const v of variants) {
      await formatDisk(loop);
      log(`bench: installing the example image (${v.name})…`);
      const r = await run(
        inPrivateMountNamespace([
          "bash",
          harness,
          tools,
          `${loop}p4`,
          `${loop}p3`,
          v.layout,
          v.scripts,
          out,
          "rw",
          "--",
          "/run/scripts/ostree-deploy",
          "--layout",
          "/run/payload",
          "--digest",
          v.digest,
          "--target-imgref",
          "registry.example.org/bench/system:1",
          "--root",
          "/run/target",
          "--stateroot",
          "bench",
          "--log",
          "/run/out/deploy.log",
          "--firmware",
          "bios",
          "--disk",
          loop,
        ]),
        { timeoutMs: 20 * 60_000 },
      );
      figures.push({ name: v.name, timings: parseTimings(r.stdout) });
    }
    return figures;
  } finally {
    if (loop) await run(["losetup", "--detach", loop], { okExitCodes: [0, 1] });
    await safeRemove(scratch);
  }
}

/** The phases as a table, each install's total against the first one's. */
export function formatInstallJob(figures: InstallJobFigures[]): string[] {
  const [base] = figures;
  if (!base) return [];
  const phases = PHASES.filter((p) => figures.some((f) => f.timings[p] !== undefined));
  const lines = [
    `\ninstall job, ostree backend, example image, on this host (baseline: ${base.name})`,
    `  ${"".padEnd(42)}${phases.map((p) => p.padStart(14)).join("")}   vs baseline`,
  ];
  const baseTotal = base.timings.total ?? 0;
  for (const f of figures) {
    const cells = phases.map((p) => {
      const v = f.timings[p];
      return (v === undefined ? "-" : `${v.toFixed(1)} s`).padStart(14);
    });
    const total = f.timings.total ?? 0;
    const ratio = baseTotal > 0 ? `${(total / baseTotal).toFixed(2)}×` : "n/a";
    lines.push(`  ${f.name.padEnd(42)}${cells.join("")}   ${ratio.padStart(6)}`);
  }
  return lines;
}
