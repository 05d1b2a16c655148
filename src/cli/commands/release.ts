// `atomiso release ISO`: (re)writes the release files of an existing build output (SBOM,
// manifest, SHA256SUMS, and SHA256SUMS.asc when a signing key is configured), e.g. to sign on
// another occasion than the build. The stage outputs of that build must still be in the cache.
import { resolve } from "node:path";
import type { Command } from "commander";
import { hashFile } from "../../cache/hash.js";
import { loadConfig } from "../../config/load.js";
import { AtomisoError } from "../../errors.js";
import { planIso } from "../../plan/plan.js";
import { planEpochs, resolveEpoch } from "../../release/epoch.js";
import { checkSigningKey, signingKeyOf } from "../../release/signing.js";
import { ISO_NAME } from "../../stages/iso.js";
import { checkTools } from "../../tools/host.js";
import { cacheDirFor, type GlobalOptions, reporterFor } from "../options.js";
import { stageDirsOf, writeReleaseFiles } from "./build-release.js";

export function registerRelease(program: Command, globals: () => GlobalOptions): void {
  program
    .command("release")
    .description(
      "write the release files beside a built ISO: SHA256SUMS, <iso>.spdx.json, <iso>.manifest.json, and SHA256SUMS.asc with [release] signing_key",
    )
    .argument("<iso>", "the ISO `atomiso build` wrote for this profile")
    .action(async (isoArg: string) => {
      const loaded = await loadConfig(globals().config);
      const epoch = await resolveEpoch(loaded.dir);
      const iso = resolve(isoArg);
      const base = planEpochs(epoch);
      let plan = await planIso(loaded, { ...base, noPayload: true });
      if (iso !== plan.output) plan = await planIso(loaded, base);
      if (iso !== plan.output) {
        throw new AtomisoError(
          "usage",
          `${iso} is not an output of ${loaded.file} (it writes ${plan.output})`,
          "pass the ISO this profile builds, or --config the profile that built it",
        );
      }
      await checkTools(["dpkg-query", "tar"]);
      const signing = signingKeyOf(loaded);
      if (signing) await checkSigningKey(signing, loaded.file);
      const cacheDir = cacheDirFor(globals());
      const dirs = stageDirsOf(plan, cacheDir);
      const missing = plan.steps.map((s) => s.stage.definition.id).filter((id) => !dirs[id]);
      if (missing.length > 0) {
        throw new AtomisoError(
          "usage",
          `the cache ${cacheDir} no longer holds the stage outputs of this build (${missing.join(", ")}), or the profile, atomiso.lock or SOURCE_DATE_EPOCH changed since`,
          "run `atomiso build` (it writes the release files itself), with the same SOURCE_DATE_EPOCH",
        );
      }
      // The SBOM describes the cached stages: the ISO must be the one they made.
      const [mine, cached] = await Promise.all([
        hashFile(iso),
        hashFile(`${dirs.iso}/${ISO_NAME}`),
      ]);
      if (mine !== cached) {
        throw new AtomisoError(
          "usage",
          `${iso} is not the ISO the cached stages of ${loaded.file} made (sha256 ${mine.slice(0, 16)}…, cache ${cached.slice(0, 16)}…)`,
          "run `atomiso build` to rebuild it (the release files are written with it)",
        );
      }
      const reporter = reporterFor(globals());
      const out = await writeReleaseFiles({
        iso,
        plan,
        loaded,
        cacheDir,
        epoch,
        reporter,
        ...(signing ? { signing } : {}),
      });
      for (const line of out.summary) console.log(line);
    });
}
