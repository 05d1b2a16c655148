// Stage "iso": lays out the medium (live/ layers, kernel, GRUB) and packs the hybrid ISO with
// xorriso. Files are hard-linked from the cache into the layout, not copied.
import { copyFile, link, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../tools/exec.js";
import { xorrisoArgv, xorrisoProgress } from "../tools/xorriso.js";
import { BASE_LAYER, CONFIG_LAYER } from "./squashfs.js";
import type { StageDefinition } from "./stage.js";

export interface IsoOptions {
  volumeId: string;
  productName: string;
  productVersion: string;
  epoch?: number;
}

export const ISO_NAME = "image.iso";

async function place(source: string, target: string): Promise<void> {
  try {
    await link(source, target);
  } catch {
    await copyFile(source, target);
  }
}

export const isoStage: StageDefinition<IsoOptions> = {
  id: "iso",
  title: "Pack the hybrid ISO (xorriso)",
  tools: ["xorriso"],
  recipe: ["src/stages/iso.ts", "src/tools/xorriso.ts"],
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
    // Debian's signed GRUB finds its medium by this file.
    await writeFile(
      join(root, ".disk", "info"),
      `${o.productName} ${o.productVersion} (atomiso)\n`,
    );
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
      // xorriso applies SOURCE_DATE_EPOCH to volume and file dates itself.
      env: o.epoch !== undefined ? { SOURCE_DATE_EPOCH: String(o.epoch) } : {},
      onLine: (line) => {
        const p = xorrisoProgress(line);
        if (p !== undefined) ctx.reporter.progress(p);
        ctx.reporter.detail(line);
      },
    });
  },
};
