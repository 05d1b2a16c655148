// The build manifest (<iso>.manifest.json): what went into this ISO, so a rebuild can be set
// up the same way and compared. Deterministic for the same inputs (no build time, no "cached"
// flags): it is part of what a reproducible rebuild reproduces.
import { run } from "../tools/exec.js";
import { TOOL_PACKAGES } from "../tools/host.js";
import type { BuildEpoch } from "./epoch.js";

export interface ManifestInput {
  atomisoVersion: string;
  iso: { name: string; sha256: string; size: number };
  installable: boolean;
  profile: { name: string; sha256: string; lockSha256?: string };
  stages: { id: string; key: string }[];
  image?: { reference: string; digest: string; pinned: string; payload: string };
  /** Debian package → version of the host tools this build runs. */
  tools: Record<string, string>;
  epoch: BuildEpoch;
}

export const MANIFEST_VERSION = 1;

export function renderManifest(m: ManifestInput): object {
  return {
    manifestVersion: MANIFEST_VERSION,
    atomiso: m.atomisoVersion,
    iso: m.iso,
    installable: m.installable,
    profile: m.profile,
    sourceDateEpoch: { value: m.epoch.epoch ?? null, source: m.epoch.source },
    image: m.image ?? null,
    stages: m.stages,
    tools: Object.fromEntries(Object.entries(m.tools).sort(([a], [b]) => (a < b ? -1 : 1))),
  };
}

/** Versions of the Debian packages providing `commands` (by TOOL_PACKAGES), from the host's dpkg. */
export async function toolVersions(commands: readonly string[]): Promise<Record<string, string>> {
  const packages = [...new Set(commands.map((c) => TOOL_PACKAGES[c] ?? c))].sort();
  const r = await run(
    ["dpkg-query", "--show", "--showformat=${Package}\\t${Version}\\n", ...packages],
    {
      // 1: some package is not known to dpkg (a tool installed another way); the rest still print.
      okExitCodes: [0, 1],
    },
  );
  const versions: Record<string, string> = {};
  for (const line of r.stdout.split("\n")) {
    const [name, version] = line.split("\t");
    if (name && version) versions[name.replace(/:.*$/, "")] = version;
  }
  for (const p of packages) versions[p] ??= "not installed by dpkg";
  return versions;
}
