// Stage "boot-files": GRUB for BIOS (El Torito core image + hybrid MBR) and UEFI (a FAT ESP
// image with Debian's signed chain: shim as BOOTX64.EFI, signed GRUB as grubx64.efi), and the
// GRUB menu. The signed chain also boots with Secure Boot off.
import { copyFile, mkdir, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { renderGrubCfg } from "../render/grub-cfg.js";
import { run } from "../tools/exec.js";
import { mcopyArgv, mcopyTreeArgv, mkfsFatArgv } from "../tools/fat.js";
import { BOOT_SOURCES, grubMkimageBiosArgv } from "../tools/grub.js";
import type { StageDefinition } from "./stage.js";

export interface BootFilesOptions {
  productName: string;
  timeout: number;
  kernelArgs: string[];
  /** [live] splash: Plymouth's splash in the install entries (not the debug one). */
  splash?: boolean;
  /** The branding's colours for the GRUB menu. */
  colors?: { background: string; text: string };
  /** FAT volume serial (8 hex digits), fixed so the ESP image is reproducible. */
  fatSerial: string;
  /** SOURCE_DATE_EPOCH: the times of the ESP's files and folders. */
  epoch?: number;
}

export const bootFilesStage: StageDefinition<BootFilesOptions> = {
  id: "boot-files",
  title: "Make the BIOS and UEFI boot files",
  tools: ["grub-mkimage", "mkfs.fat", "mmd", "mcopy"],
  module: import.meta.url,
  async run(ctx, o) {
    const out = (name: string) => join(ctx.outDir, name);
    await run(grubMkimageBiosArgv(out("eltorito.img")));
    await copyFile(BOOT_SOURCES.hybridMbr, out("boot_hybrid.img"));
    await writeFile(
      out("grub.cfg"),
      renderGrubCfg({
        productName: o.productName,
        timeout: o.timeout,
        extraKernelArgs: o.kernelArgs,
        ...(o.splash ? { splash: true } : {}),
        ...(o.colors ? { colors: o.colors } : {}),
      }),
    );

    const efiFiles: [string, string][] = [
      [BOOT_SOURCES.shim, "/EFI/BOOT/BOOTX64.EFI"],
      [BOOT_SOURCES.grubEfi, "/EFI/BOOT/grubx64.efi"],
      [BOOT_SOURCES.mokManager, "/EFI/BOOT/mmx64.efi"],
    ];
    let bytes = 0;
    for (const [source] of efiFiles) bytes += (await stat(source)).size;
    // Room for the files plus FAT overhead, rounded up to whole MiB.
    const sizeKiB = Math.ceil((bytes * 1.1 + 512 * 1024) / (1024 * 1024)) * 1024;
    const esp = out("efiboot.img");
    await run(mkfsFatArgv(esp, sizeKiB, "ATOMISOESP", o.fatSerial));
    // mmd would stamp the folders with the current time: they are made on disk with fixed
    // times and copied (-s -m), then the files go in one by one, in a fixed order.
    const tree = join(ctx.tmpDir, "esp");
    await mkdir(join(tree, "EFI", "BOOT"), { recursive: true });
    if (o.epoch !== undefined) {
      for (const d of ["EFI/BOOT", "EFI"]) await utimes(join(tree, d), o.epoch, o.epoch);
    }
    await run(mcopyTreeArgv(esp, tree, ["EFI"]));
    for (const [source, target] of efiFiles) {
      const staged = join(ctx.tmpDir, "esp-file");
      await copyFile(source, staged);
      if (o.epoch !== undefined) await utimes(staged, o.epoch, o.epoch);
      await run(mcopyArgv(esp, staged, target));
    }
  },
};
