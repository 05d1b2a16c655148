// Stand-ins for installer-scripts/live/disk-list's JSON (lsblk, partitions nested under their
// disk) of the boot tier's machines, shared by the erase confirmation's node and Qt tests, and
// the page's check (erase-check.js) loaded into node.
import { runInNewContext } from "node:vm";

/** What erase-check.js's eraseLosses returns. */
export interface Losses {
  ask: boolean;
  heading: string;
  lines: string[];
}
export type EraseLosses = (choice: unknown, osproberLines: unknown, lsblkText: unknown) => Losses;

/**
 * erase-check.js's eraseLosses from the file's text, in a fresh context per call: the file is a
 * script of top-level declarations, as QML loads it.
 */
export function eraseLossesOf(source: string): EraseLosses {
  return (...args) => (runInNewContext(`${source}\n;eraseLosses`, {}) as EraseLosses)(...args);
}

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

/** os-prober's line for the laptop's Windows Boot Manager, as Calamares stores it. */
export const WINDOWS =
  "/dev/vda1@/EFI/Microsoft/Boot/bootmgfw.efi:Windows Boot Manager:Windows:efi";

export const part = (
  path: string,
  size: number,
  fstype: string | null,
  label: string | null = null,
) => ({ path, type: "part", size, fstype, label, mountpoints: [null] });

/** The live medium. */
export const cdrom = {
  path: "/dev/sr0",
  type: "rom",
  size: 1800 * MiB,
  fstype: "iso9660",
  label: "ParticleOS",
  mountpoints: ["/run/live/medium"],
};

/** The boot tier's Windows laptop disk (test/support/windows-disk.ts). */
export const laptop = {
  path: "/dev/vda",
  type: "disk",
  size: 24 * GiB,
  fstype: null,
  label: null,
  mountpoints: [null],
  children: [
    part("/dev/vda1", 100 * MiB, "vfat"),
    part("/dev/vda2", 16 * MiB, null),
    part("/dev/vda3", 24 * GiB - 118 * MiB, "ntfs", "Windows"),
  ],
};

/** A disk without a partition table or file system. */
export const blank = (path: string, size = 20 * GiB) => ({
  path,
  type: "disk",
  size,
  fstype: null,
  label: null,
  mountpoints: [null],
});
