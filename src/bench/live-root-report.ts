// What the live root is made of: each package's bytes as they are in the root (its regular
// files after dpkg's path excludes, libexec/live-root-excludes), biggest first. The bootstrap
// prints the same list into the build log (libexec/mmdebstrap-customize); the bench prints it
// for the cached root it measured.
import { lstat, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

export interface PackageSize {
  name: string;
  bytes: number;
}

export async function livePackageSizes(root: string): Promise<PackageSize[]> {
  const info = join(root, "var/lib/dpkg/info");
  const lists = (await readdir(info)).filter((f) => f.endsWith(".list"));
  const sizes: PackageSize[] = [];
  for (const list of lists) {
    const name = list.slice(0, -".list".length).replace(/:amd64$/, "");
    const paths = (await readFile(join(info, list), "utf8")).split("\n").filter(Boolean);
    let bytes = 0;
    for (const path of paths) {
      const st = await lstat(join(root, path)).catch(() => undefined);
      if (st?.isFile()) bytes += st.size;
    }
    sizes.push({ name, bytes });
  }
  return sizes.sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name));
}
