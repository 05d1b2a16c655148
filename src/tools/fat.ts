// FAT images without mounting (this kernel has no vfat): mkfs.fat + mtools.
export function mkfsFatArgv(
  image: string,
  sizeKiB: number,
  label: string,
  serial: string,
): string[] {
  // --invariant: no creation time in the boot sector or the label entry (reproducible image).
  return ["mkfs.fat", "--invariant", "-C", "-n", label, "-i", serial, image, String(sizeKiB)];
}

export function mmdArgv(image: string, dir: string): string[] {
  return ["mmd", "-i", image, `::${dir}`];
}

export function mcopyArgv(image: string, source: string, target: string): string[] {
  return ["mcopy", "-i", image, "-m", source, `::${target}`];
}

/**
 * Copies the folders and files of `dir` into the image's root, keeping their times (-m): mtools
 * stamps folders it makes itself (mmd) with the current time, so the tree is laid out on disk
 * with fixed times first.
 */
export function mcopyTreeArgv(image: string, dir: string, names: string[]): string[] {
  return ["mcopy", "-i", image, "-s", "-m", "-Q", ...names.map((n) => `${dir}/${n}`), "::/"];
}
