// dpkg-query: the packages installed in a root tree (its dpkg database given with --admindir),
// for the SBOM. Tabs separate the fields; dpkg never puts one in a package field.
export const DPKG_FIELDS = [
  "Package",
  "Version",
  "Architecture",
  "source:Package",
  "source:Version",
  "db:Status-Abbrev",
] as const;

export function dpkgQueryArgv(admindir: string): string[] {
  return [
    "dpkg-query",
    `--admindir=${admindir}`,
    "--show",
    `--showformat=${DPKG_FIELDS.map((f) => `\${${f}}`).join("\\t")}\\n`,
  ];
}

export interface InstalledPackage {
  name: string;
  version: string;
  architecture: string;
  sourceName: string;
  sourceVersion: string;
}

/** Parses dpkg-query's output; keeps installed packages only ("ii"), sorted by name and arch. */
export function parseDpkgQuery(stdout: string): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  for (const line of stdout.split("\n")) {
    if (!line) continue;
    const [name, version, architecture, sourceName, sourceVersion, status] = line.split("\t");
    if (!name || !version || !status?.startsWith("ii")) continue;
    out.push({
      name,
      version,
      architecture: architecture ?? "",
      sourceName: sourceName || name,
      sourceVersion: sourceVersion || version,
    });
  }
  return out.sort((a, b) =>
    a.name === b.name ? a.architecture.localeCompare(b.architecture) : a.name < b.name ? -1 : 1,
  );
}
