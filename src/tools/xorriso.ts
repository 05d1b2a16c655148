// xorriso: packs the hybrid ISO. BIOS: El Torito GRUB core image, plus GRUB's boot_hybrid MBR
import { run } from "./exec.js";
// so the image also boots dd'ed to a USB stick. UEFI: an El Torito EFI entry pointing at the
// ESP image, which is also appended as MBR partition 2 (type 0xef) for the USB case. No GPT:
// a fully valid GPT breaks BIOS boot on some firmware.
export interface XorrisoOptions {
  root: string;
  output: string;
  volumeId: string;
  publisher: string;
  eltoritoImage: string;
  hybridMbr: string;
  efiImage: string;
}

export function xorrisoArgv(o: XorrisoOptions): string[] {
  return [
    "xorriso",
    "-as",
    "mkisofs",
    "-iso-level",
    "3",
    "-full-iso9660-filenames",
    "-joliet",
    "-joliet-long",
    "-rational-rock",
    "-volid",
    o.volumeId,
    "-appid",
    "atomiso",
    "-publisher",
    o.publisher,
    "-preparer",
    "atomiso",
    "--grub2-mbr",
    o.hybridMbr,
    "--mbr-force-bootable",
    "-partition_offset",
    "16",
    "-append_partition",
    "2",
    "0xef",
    o.efiImage,
    "-eltorito-boot",
    o.eltoritoImage,
    "-no-emul-boot",
    "-boot-load-size",
    "4",
    "-boot-info-table",
    "--grub2-boot-info",
    "-eltorito-catalog",
    "boot/grub/boot.cat",
    "-eltorito-alt-boot",
    "-e",
    "--interval:appended_partition_2:all::",
    "-no-emul-boot",
    "-output",
    o.output,
    o.root,
  ];
}

/** xorriso reports "xorriso : UPDATE :  45.23% done"; returns the fraction. */
export function xorrisoProgress(line: string): number | undefined {
  const m = /UPDATE\s*:\s*([\d.]+)% done/.exec(line);
  return m?.[1] ? Number(m[1]) / 100 : undefined;
}

/** What xorriso says about an ISO's boot records and system area (MBR, partitions). */
export async function bootReport(iso: string): Promise<string> {
  const r = await run([
    "xorriso",
    "-indev",
    iso,
    "-report_el_torito",
    "plain",
    "-report_system_area",
    "plain",
  ]);
  // xorriso prints part of its report on stderr.
  return r.stdout + r.stderr;
}
