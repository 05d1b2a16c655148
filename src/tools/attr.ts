// getfattr/setfattr (Debian attr): the overlay's own bookkeeping xattrs are removed from the
// live configuration layer before it is squashed. overlayfs writes trusted.overlay.uuid (random
// per mount) and trusted.overlay.origin (file handles of the lower tree: its inode numbers)
// into the upper dir; both mean nothing once the layer is a lower layer in the live system,
// and they make every build's layer differ. trusted.overlay.opaque, which the live system's
// overlay needs, is kept.
export const OVERLAY_BOOKKEEPING = [
  "trusted.overlay.uuid",
  "trusted.overlay.origin",
  "trusted.overlay.impure",
] as const;

/** Dumps the names of those xattrs for every path under `dir` (no link is followed). */
export function getfattrOverlayArgv(dir: string): string[] {
  const names = OVERLAY_BOOKKEEPING.map((n) => n.replace(/\./g, "\\.")).join("|");
  return [
    "getfattr",
    "--recursive",
    "--physical",
    "--absolute-names",
    "--match",
    `^(${names})$`,
    "--",
    dir,
  ];
}

/** Removes one xattr from each path (-h: from a symlink itself). */
export function setfattrRemoveArgv(name: string, paths: string[]): string[] {
  return ["setfattr", "-h", "-x", name, "--", ...paths];
}

/** getfattr escapes unusual bytes in paths as \ooo (octal); the rest is UTF-8 text. */
export function unescapePath(path: string): string {
  const bytes: Buffer[] = [];
  for (const part of path.split(/(\\[0-7]{3})/)) {
    if (/^\\[0-7]{3}$/.test(part)) bytes.push(Buffer.from([Number.parseInt(part.slice(1), 8)]));
    else bytes.push(Buffer.from(part, "utf8"));
  }
  return Buffer.concat(bytes).toString("utf8");
}

/** getfattr's output → xattr name → paths that have it. */
export function parseGetfattr(stdout: string): Map<string, string[]> {
  const byName = new Map<string, string[]>();
  let file: string | undefined;
  for (const line of stdout.split("\n")) {
    if (line.startsWith("# file: ")) file = unescapePath(line.slice("# file: ".length));
    else if (file && line.trim() && !line.startsWith("#")) {
      const name = line.split("=")[0] as string;
      byName.set(name, [...(byName.get(name) ?? []), file]);
    }
  }
  return byName;
}
