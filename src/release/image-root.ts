// The parts of the pinned system image the SBOM reads (its dpkg database and copyright files),
// extracted from the embedded payload's OCI layout layer by layer with GNU tar (which detects
// the layer's compression itself). Later layers overwrite earlier ones, as in the image; the
// dpkg status file is rewritten whole by every layer that changes it, so whiteouts do not matter.
import { mkdir } from "node:fs/promises";
import { AtomisoError } from "../errors.js";
import { OciLayout } from "../oci/layout.js";
import { run } from "../tools/exec.js";

const MEMBERS = ["var/lib/dpkg/status", "usr/share/doc/*", "usr/share/doc/*/copyright"];

/** tar argv that extracts the SBOM's files of one layer into `dir` (no owners, no recursion). */
export function extractSbomFilesArgv(layer: string, dir: string): string[] {
  return [
    "tar",
    "--extract",
    "--file",
    layer,
    "--directory",
    dir,
    "--no-same-owner",
    "--no-same-permissions",
    "--no-recursion",
    "--wildcards",
    "--no-wildcards-match-slash",
    "--",
    ...MEMBERS,
    ...MEMBERS.map((m) => `./${m}`),
  ];
}

/** Extracts into `dir`; returns the image's manifest digest. */
export async function extractImageSbomFiles(
  layoutDir: string,
  dir: string,
  tag?: string,
): Promise<string> {
  const layout = await OciLayout.open(layoutDir);
  const image = await layout.resolveImage(tag);
  await mkdir(dir, { recursive: true });
  for (const layer of image.manifest.layers) {
    // tar exits 2 when a pattern matches nothing in this layer; anything else it says is real.
    const r = await run(extractSbomFilesArgv(layout.blobPath(layer.digest), dir), {
      okExitCodes: [0, 2],
    });
    const other = r.stderr
      .split("\n")
      .filter((l) => l.trim() && !/Not found in archive|Exiting with failure status/.test(l));
    if (r.exitCode !== 0 && other.length > 0) {
      throw new AtomisoError(
        "command-failed",
        `tar could not read layer ${layer.digest} of ${layoutDir}: ${other.join("; ")}`,
        "the payload in the stage cache is damaged: rebuild it with `atomiso build --rebuild payload`",
      );
    }
  }
  return image.manifestDescriptor.digest;
}
