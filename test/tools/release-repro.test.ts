// Byte-identical outputs with SOURCE_DATE_EPOCH, from the real tools on small inputs: the boot
// files (GRUB core image, FAT ESP), a squashfs layer and the hybrid ISO are each made twice,
// seconds apart, from fresh copies with different file times, and compared byte for byte.
import { cp, mkdir, mkdtemp, readFile, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hashFile } from "../../src/cache/hash.js";
import { silentReporter } from "../../src/log/reporter.js";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { bootFilesStage } from "../../src/stages/boot-files.js";
import { isoStage } from "../../src/stages/iso.js";
import { squashfsConfigStage } from "../../src/stages/squashfs.js";
import type { StageContext } from "../../src/stages/stage.js";
import { run } from "../../src/tools/exec.js";

const EPOCH = 1_700_000_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("reproducible stage outputs with SOURCE_DATE_EPOCH", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-repro-"));
  afterAll(() => safeRemove(work));

  async function ctx(name: string, inputs: StageContext["inputs"] = {}): Promise<StageContext> {
    const dir = join(work, name);
    await mkdir(join(dir, "out"), { recursive: true });
    await mkdir(join(dir, "tmp"), { recursive: true });
    return {
      reporter: silentReporter,
      outDir: join(dir, "out"),
      tmpDir: join(dir, "tmp"),
      inputs,
      aptCacheDir: "/nonexistent",
    };
  }

  /** A live-config "upper" tree whose files get the current time, as a real build's would. */
  async function liveConfig(name: string): Promise<string> {
    const dir = join(work, name);
    await mkdir(join(dir, "upper", "etc"), { recursive: true });
    await writeFile(join(dir, "upper", "etc", "hostname"), "particleos-live\n");
    await writeFile(join(dir, "upper", "etc", "motd"), "hello\n");
    return dir;
  }

  /** One build of boot-files, squashfs-config and iso; returns the ISO path. */
  async function build(n: number): Promise<{ iso: string; esp: string; squash: string }> {
    const boot = await ctx(`boot${n}`);
    await bootFilesStage.run(boot, {
      productName: "ParticleOS",
      timeout: 3,
      kernelArgs: [],
      fatSerial: "1234abcd",
      epoch: EPOCH,
    });
    const live = await liveConfig(`live${n}`);
    const squash = await ctx(`squash${n}`, { "live-config": live });
    await squashfsConfigStage.run(squash, { compression: "zstd", level: 3, epoch: EPOCH });
    // Stand-ins for the base layer and the kernel (their own reproducibility is mmdebstrap's).
    const kernel = join(work, `kernel${n}`);
    await mkdir(kernel, { recursive: true });
    await writeFile(join(kernel, "vmlinuz"), "kernel\n");
    await writeFile(join(kernel, "initrd.img"), "initrd\n");
    const base = join(work, `base${n}`);
    await mkdir(base, { recursive: true });
    await cp(join(squash.outDir, "50-config.squashfs"), join(base, "00-base.squashfs"));
    const iso = await ctx(`iso${n}`, {
      "squashfs-base": base,
      "squashfs-config": squash.outDir,
      kernel,
      "boot-files": boot.outDir,
    });
    await isoStage.run(iso, {
      volumeId: "PARTICLEOS",
      productName: "ParticleOS",
      productVersion: "1.0",
      epoch: EPOCH,
      installerMemoryMiB: 1536,
    });
    return {
      iso: join(iso.outDir, "image.iso"),
      esp: join(boot.outDir, "efiboot.img"),
      squash: join(squash.outDir, "50-config.squashfs"),
    };
  }

  const first = await build(1);
  // Different wall-clock times and different input mtimes for the second build.
  await sleep(2100);
  await utimes(join(work, "kernel1", "vmlinuz"), EPOCH + 99, EPOCH + 99);
  const second = await build(2);

  it("makes the same ESP image twice", async () => {
    expect(await hashFile(second.esp)).toBe(await hashFile(first.esp));
  });

  it("makes the same squashfs layer twice", async () => {
    expect(await hashFile(second.squash)).toBe(await hashFile(first.squash));
  });

  it("makes the same configuration layer from two overlay sessions, keeping opaque folders", async () => {
    // A real overlay (private mount namespace) writes its bookkeeping xattrs into the upper
    // dir: trusted.overlay.uuid is random per mount. The lower dir has a folder the session
    // replaces (rm + mkdir: an opaque folder in the upper dir).
    const lower = join(work, "ovl-lower");
    await mkdir(join(lower, "etc", "replaced"), { recursive: true });
    await writeFile(join(lower, "etc", "replaced", "old"), "old\n");
    await writeFile(join(lower, "etc", "keep"), "keep\n");
    const layers: string[] = [];
    for (const n of [1, 2]) {
      const base = join(work, `ovl${n}`);
      for (const d of ["upper", "work", "merged"]) await mkdir(join(base, d), { recursive: true });
      await run([
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-euc",
        'mount -t overlay overlay -o "lowerdir=$1,upperdir=$2/upper,workdir=$2/work" "$2/merged"; echo new > "$2/merged/etc/keep"; rm -r "$2/merged/etc/replaced"; mkdir "$2/merged/etc/replaced"; echo new > "$2/merged/etc/replaced/new"; umount "$2/merged"',
        "sh",
        lower,
        base,
      ]);
      const c = await ctx(`ovl-squash${n}`, { "live-config": base });
      await squashfsConfigStage.run(c, { compression: "zstd", level: 3, epoch: EPOCH });
      layers.push(join(c.outDir, "50-config.squashfs"));
    }
    const xattrs = (
      await run([
        "getfattr",
        "-R",
        "-d",
        "-m",
        "-",
        "--absolute-names",
        join(work, "ovl1", "upper"),
      ])
    ).stdout;
    expect(xattrs).toContain("trusted.overlay.uuid");
    expect(xattrs).toContain("trusted.overlay.opaque");
    expect(await hashFile(layers[1] as string)).toBe(await hashFile(layers[0] as string));
    // The layer keeps the opaque marker and drops the bookkeeping.
    const listing = (await run(["unsquashfs", "-lls", "-xattrs", layers[0] as string])).stdout;
    expect(listing).toContain("etc/replaced/new");
    const extracted = join(work, "ovl-extracted");
    await run(["unsquashfs", "-q", "-d", extracted, layers[0] as string]);
    const kept = (await run(["getfattr", "-R", "-d", "-m", "-", "--absolute-names", extracted]))
      .stdout;
    expect(kept).toContain("trusted.overlay.opaque");
    expect(kept).not.toContain("trusted.overlay.uuid");
    expect(kept).not.toContain("trusted.overlay.origin");
  });

  it("makes the same hybrid ISO twice, with the epoch as its volume date", async () => {
    expect(await hashFile(second.iso)).toBe(await hashFile(first.iso));
    // The primary volume descriptor's creation date (ISO 9660 8.4.26): "2023111422132000".
    const pvd = (await readFile(first.iso)).subarray(16 * 2048, 17 * 2048);
    expect(pvd.subarray(813, 827).toString("latin1")).toBe("20231114221320");
  });
});
