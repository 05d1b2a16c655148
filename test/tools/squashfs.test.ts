// Real mksquashfs on a tiny tree shaped like an overlay upper dir: a file, a symlink and an
// overlayfs whiteout (character device 0/0), which live-boot's overlay must see as a deletion;
// and the base layer's excludes (the live kernel and initrd, which the ISO carries in /live).
import { mkdir, mkdtemp, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { BASE_LAYER_EXCLUDES } from "../../src/stages/squashfs.js";
import { run } from "../../src/tools/exec.js";
import { mksquashfsArgv, mksquashfsProgress } from "../../src/tools/mksquashfs.js";

describe("mksquashfs", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-squashfs-"));
  afterAll(() => safeRemove(work));
  const tree = join(work, "tree");
  await mkdir(join(tree, "etc"), { recursive: true });
  await writeFile(join(tree, "etc", "hostname"), "particleos-live\n");
  await symlink("hostname", join(tree, "etc", "hostname-link"));
  await run(["mknod", join(tree, "etc", "removed"), "c", "0", "0"]);

  it("compresses with zstd, keeps links and whiteouts, and reports progress", async () => {
    const output = join(work, "layer.squashfs");
    const progress: number[] = [];
    await run(
      mksquashfsArgv({ source: tree, output, compression: "zstd", level: 3, epoch: 1_700_000_000 }),
      {
        onLine: (l) => {
          const p = mksquashfsProgress(l);
          if (p !== undefined) progress.push(p);
        },
      },
    );
    expect(progress.at(-1)).toBe(1);
    const { stdout: listing } = await run(["unsquashfs", "-lls", output]);
    expect(listing).toMatch(
      /^-rw-r--r-- root\/root\s+16 2023-11-14 \d\d:\d\d squashfs-root\/etc\/hostname$/m,
    );
    expect(listing).toMatch(/^lrwxrwxrwx .* squashfs-root\/etc\/hostname-link -> hostname$/m);
    expect(listing).toMatch(/^c\S+ root\/root\s+0,\s*0 .* squashfs-root\/etc\/removed$/m);
    const { stdout: stats } = await run(["unsquashfs", "-s", output]);
    expect(stats).toContain("Compression zstd");
  });

  it("leaves out what the base layer excludes, matched from the tree's top only", async () => {
    const root = join(work, "root");
    await mkdir(join(root, "boot"), { recursive: true });
    await mkdir(join(root, "usr", "boot"), { recursive: true });
    for (const f of [
      "boot/vmlinuz-6.1",
      "boot/initrd.img-6.1",
      "boot/config-6.1",
      "usr/boot/vmlinuz-6.1",
    ])
      await writeFile(join(root, f), `${f}\n`);
    await symlink("boot/vmlinuz-6.1", join(root, "vmlinuz"));
    const output = join(work, "base.squashfs");
    await run(
      mksquashfsArgv({
        source: root,
        output,
        compression: "zstd",
        level: 3,
        quiet: true,
        exclude: BASE_LAYER_EXCLUDES,
      }),
    );
    const { stdout: listing } = await run(["unsquashfs", "-lls", output]);
    const paths = listing
      .split("\n")
      .map((l) => /squashfs-root(\/\S*)/.exec(l)?.[1])
      .filter((p) => p !== undefined)
      .sort();
    expect(paths).toEqual([
      "/boot",
      "/boot/config-6.1",
      "/usr",
      "/usr/boot",
      "/usr/boot/vmlinuz-6.1",
    ]);
  });

  it("compresses quietly: no progress bar, no output, the same tree", async () => {
    const output = join(work, "quiet.squashfs");
    const lines: string[] = [];
    await run(mksquashfsArgv({ source: tree, output, compression: "lz4", quiet: true }), {
      onLine: (l) => lines.push(l),
    });
    expect(lines.filter((l) => l.trim() !== "")).toEqual([]);
    const { stdout: listing } = await run(["unsquashfs", "-lls", output]);
    expect(listing).toMatch(/squashfs-root\/etc\/hostname-link -> hostname$/m);
    const { stdout: stats } = await run(["unsquashfs", "-s", output]);
    expect(stats).toContain("Compression lz4");
  });
});
