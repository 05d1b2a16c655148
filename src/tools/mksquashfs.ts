// mksquashfs: compresses a tree into a squashfs image.
export interface MksquashfsOptions {
  source: string;
  output: string;
  compression: "zstd" | "xz" | "gzip" | "lz4";
  level?: number;
  /** SOURCE_DATE_EPOCH: fixed timestamps make the image reproducible. */
  epoch?: number;
  processors?: number;
  /** No progress bar and no per-file output (the default prints the bar for mksquashfsProgress). */
  quiet?: boolean;
  /** Paths left out, relative to the source; `*` and `?` match within one path component. */
  exclude?: readonly string[];
}

const DEFAULT_LEVEL: Record<MksquashfsOptions["compression"], number | undefined> = {
  zstd: 15,
  xz: undefined,
  gzip: 9,
  lz4: undefined,
};

export function mksquashfsArgv(o: MksquashfsOptions): string[] {
  const level = o.level ?? DEFAULT_LEVEL[o.compression];
  return [
    "mksquashfs",
    o.source,
    o.output,
    "-noappend",
    "-comp",
    o.compression,
    ...(level !== undefined && o.compression !== "xz" && o.compression !== "lz4"
      ? ["-Xcompression-level", String(level)]
      : []),
    "-xattrs",
    ...(o.quiet ? ["-no-progress", "-quiet"] : ["-progress"]),
    ...(o.processors ? ["-processors", String(o.processors)] : []),
    ...(o.epoch !== undefined ? ["-mkfs-time", String(o.epoch), "-all-time", String(o.epoch)] : []),
    // -e takes every argument after it, so it comes last.
    ...(o.exclude?.length ? ["-wildcards", "-e", ...o.exclude] : []),
  ];
}

/** The progress bar ends in "NN%"; returns the fraction, if the line has one. */
export function mksquashfsProgress(line: string): number | undefined {
  const m = /\s(\d{1,3})%\s*$/.exec(line);
  return m?.[1] ? Number(m[1]) / 100 : undefined;
}
