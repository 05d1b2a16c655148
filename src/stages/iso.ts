// Stage "iso": lays out the medium (live/ layers, kernel, GRUB) and packs the hybrid ISO with
// xorriso. Files are hard-linked from the cache into the layout, not copied.
import { copyFile, link, lutimes, mkdir, readdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { treeSize } from "../image/tree.js";
import { INSTALL_PLAN_IN_ISO, type InstallPlan, PAYLOAD_IN_ISO } from "../install/install-plan.js";
import { TORAM_GRUB_VARIABLE } from "../render/grub-cfg.js";
import { run } from "../tools/exec.js";
import { xorrisoArgv, xorrisoProgress } from "../tools/xorriso.js";
import { PAYLOAD_DIR } from "./payload.js";
import { BASE_LAYER, CONFIG_LAYER } from "./squashfs.js";
import type { StageDefinition } from "./stage.js";

export interface IsoOptions {
  volumeId: string;
  productName: string;
  productVersion: string;
  epoch?: number;
  /** Present when the ISO embeds the pinned image (the payload stage's output). */
  installPlan?: InstallPlan;
  /** The memory the installer needs beside a copy of the medium ([installer.requirements]). */
  installerMemoryMiB: number;
}

/** Memory kept free beyond the installer's own need when the medium is copied to memory. */
export const TORAM_RESERVE_MIB = 512;

/**
 * /boot/grub/medium.cfg: the memory a machine needs for the live system to copy this medium to
 * it (the medium, the installer's memory and a reserve), which grub.cfg passes to the kernel as
 * atomiso.toram (see installer-scripts/initramfs/toram-in-vm).
 */
export function mediumGrubCfg(mediumBytes: number, installerMemoryMiB: number): string {
  const mediumMiB = Math.ceil(mediumBytes / (1024 * 1024));
  const need = mediumMiB + installerMemoryMiB + TORAM_RESERVE_MIB;
  return [
    "# Written when the ISO was packed (atomiso): the memory a virtual machine needs for the",
    `# live system to copy the medium to it: the medium ${mediumMiB} MiB, the installer ${installerMemoryMiB} MiB,`,
    `# a reserve of ${TORAM_RESERVE_MIB} MiB.`,
    `set ${TORAM_GRUB_VARIABLE}=${need}`,
    "",
  ].join("\n");
}

export const ISO_NAME = "image.iso";

async function place(source: string, target: string): Promise<void> {
  try {
    await link(source, target);
  } catch {
    await copyFile(source, target);
  }
}

/** Hard-links a tree of plain files and folders (an OCI layout) into the ISO layout. */
async function placeTree(source: string, target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  for (const entry of await readdir(source, { withFileTypes: true })) {
    if (entry.isDirectory()) await placeTree(join(source, entry.name), join(target, entry.name));
    else await place(join(source, entry.name), join(target, entry.name));
  }
}

/**
 * Sets every time in the layout to SOURCE_DATE_EPOCH: with it xorriso takes each file's ISO date
 * from its mtime, and the layout's files are fresh or linked from cache outputs of any age.
 * (A linked file's cache copy gets the same time; its content is untouched.)
 */
async function setTimes(dir: string, epoch: number): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await setTimes(path, epoch);
    await lutimes(path, epoch, epoch);
  }
  await lutimes(dir, epoch, epoch);
}

export const isoStage: StageDefinition<IsoOptions> = {
  id: "iso",
  title: "Pack the hybrid ISO (xorriso)",
  tools: ["xorriso"],
  module: import.meta.url,
  async run(ctx, o) {
    const { inputs } = ctx;
    const base = inputs["squashfs-base"];
    const config = inputs["squashfs-config"];
    const kernel = inputs.kernel;
    const boot = inputs["boot-files"];
    if (!base || !config || !kernel || !boot)
      throw new Error("iso needs the squashfs, kernel and boot-files stages");
    const root = join(ctx.tmpDir, "iso");
    for (const d of ["live", "boot/grub", ".disk"]) await mkdir(join(root, d), { recursive: true });
    await place(join(base, BASE_LAYER), join(root, "live", BASE_LAYER));
    await place(join(config, CONFIG_LAYER), join(root, "live", CONFIG_LAYER));
    // live-boot stacks the listed layers in this order, the last one on top.
    await writeFile(join(root, "live", "filesystem.module"), `${BASE_LAYER}\n${CONFIG_LAYER}\n`);
    await place(join(kernel, "vmlinuz"), join(root, "live", "vmlinuz"));
    await place(join(kernel, "initrd.img"), join(root, "live", "initrd.img"));
    await place(join(boot, "grub.cfg"), join(root, "boot", "grub", "grub.cfg"));
    await place(join(boot, "eltorito.img"), join(root, "boot", "grub", "eltorito.img"));
    if (o.installPlan) {
      if (o.installPlan.payload.mode === "embedded") {
        // The payload beside the squashfs layers, never inside them (see stages/payload.ts).
        const payload = inputs.payload;
        if (!payload) throw new Error("iso needs the payload stage when it embeds an image");
        await placeTree(join(payload, PAYLOAD_DIR), join(root, PAYLOAD_IN_ISO));
      }
      // atomiso/ exists only with a payload; an online ISO carries the plan alone.
      await mkdir(dirname(join(root, INSTALL_PLAN_IN_ISO)), { recursive: true });
      await writeFile(
        join(root, INSTALL_PLAN_IN_ISO),
        `${JSON.stringify(o.installPlan, null, 2)}\n`,
      );
    }
    // Last, when every other file is in place: its number counts them.
    await writeFile(
      join(root, "boot", "grub", "medium.cfg"),
      mediumGrubCfg(await treeSize(root), o.installerMemoryMiB),
    );
    // Debian's signed GRUB finds its medium by this file.
    await writeFile(
      join(root, ".disk", "info"),
      `${o.productName} ${o.productVersion} (atomiso)\n`,
    );
    if (o.epoch !== undefined) await setTimes(root, o.epoch);
    const argv = xorrisoArgv({
      root,
      output: join(ctx.outDir, ISO_NAME),
      volumeId: o.volumeId,
      publisher: o.productName,
      eltoritoImage: "boot/grub/eltorito.img",
      hybridMbr: join(boot, "boot_hybrid.img"),
      efiImage: join(boot, "efiboot.img"),
    });
    await run(argv, {
      // xorriso takes the volume dates, the UUID and every file date from SOURCE_DATE_EPOCH (file
      // dates by way of the mtimes set above); set or cleared, never inherited behind the key.
      env: { SOURCE_DATE_EPOCH: o.epoch !== undefined ? String(o.epoch) : undefined },
      onLine: (line) => {
        const p = xorrisoProgress(line);
        if (p !== undefined) ctx.reporter.progress(p);
        ctx.reporter.detail(line);
      },
    });
  },
};
