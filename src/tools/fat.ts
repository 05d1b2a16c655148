// FAT images without mounting (this kernel has no vfat): mkfs.fat + mtools.
export function mkfsFatArgv(
  image: string,
  sizeKiB: number,
  label: string,
  serial: string,
): string[] {
  return ["mkfs.fat", "-C", "-n", label, "-i", serial, image, String(sizeKiB)];
}

export function mmdArgv(image: string, dir: string): string[] {
  return ["mmd", "-i", image, `::${dir}`];
}

export function mcopyArgv(image: string, source: string, target: string): string[] {
  return ["mcopy", "-i", image, "-m", source, `::${target}`];
}
