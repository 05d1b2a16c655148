// The release step of `atomiso build` and `atomiso release`: SBOM and manifest from the stage
// outputs of the plan, then SHA256SUMS (and its signature) over the ISO and its side files.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { StageStore } from "../../cache/store.js";
import type { LoadedConfig } from "../../config/load.js";
import type { Reporter } from "../../log/reporter.js";
import { safeRemove } from "../../mounts/safe-remove.js";
import { type Plan, relativeToCwd } from "../../plan/plan.js";
import type { BuildEpoch } from "../../release/epoch.js";
import type { SigningKey } from "../../release/signing.js";
import { writeReleaseDocs, writeSumsAndSignature } from "../../release/write.js";
import type { StageId } from "../../stages/stage.js";

export interface ReleaseFilesInput {
  iso: string;
  plan: Plan;
  loaded: LoadedConfig;
  cacheDir: string;
  epoch: BuildEpoch;
  reporter: Reporter;
  signing?: SigningKey;
  /** Called between the SBOM/manifest and the sums (the build closes its log there); returns the log. */
  beforeSums?: () => string;
}

/** Stage output dirs of the plan; a missing one means the cache no longer has this build. */
export function stageDirsOf(plan: Plan, cacheDir: string): Partial<Record<StageId, string>> {
  const store = new StageStore(cacheDir);
  const dirs: Partial<Record<StageId, string>> = {};
  for (const { stage, key } of plan.steps) {
    const id = stage.definition.id;
    if (store.has(id, key)) dirs[id] = store.outputDir(id, key);
  }
  return dirs;
}

export async function writeReleaseFiles(
  i: ReleaseFilesInput,
): Promise<{ log: string; summary: string[] }> {
  const scratch = join(i.cacheDir, "tmp", `release-${process.pid}-${Date.now().toString(36)}`);
  await mkdir(scratch, { recursive: true });
  let isoSha: string;
  try {
    isoSha = await i.reporter.step("Write the SBOM and the build manifest", () =>
      writeReleaseDocs({
        iso: i.iso,
        plan: i.plan,
        loaded: i.loaded,
        stageDirs: stageDirsOf(i.plan, i.cacheDir),
        epoch: i.epoch,
        scratch,
        reporter: i.reporter,
      }),
    );
  } finally {
    await safeRemove(scratch);
  }
  const log = i.beforeSums?.() ?? `${i.iso}.log`;
  const out = await writeSumsAndSignature(i.iso, i.signing, isoSha);
  const summary = [
    `release: ${relativeToCwd(out.sums)} (${out.entries.map((e) => e.name).join(", ")})`,
    out.signature
      ? `signed: ${relativeToCwd(out.signature)} (key ${i.signing?.fingerprint})`
      : "not signed (no release.signing_key)",
    `SOURCE_DATE_EPOCH ${i.epoch.epoch ?? "none"} (${i.epoch.source})`,
  ];
  return { log, summary };
}
