import { stat } from "node:fs/promises";
import { type Command, Option } from "commander";
import { runPlan } from "../../build/runner.js";
import { loadConfig } from "../../config/load.js";
import { AtomisoError, formatError } from "../../errors.js";
import { BuildLog } from "../../log/build-log.js";
import { packageVersion } from "../../paths.js";
import { planIso, relativeToCwd } from "../../plan/plan.js";
import { planEpochs, resolveEpoch } from "../../release/epoch.js";
import { checkSigningKey, signingKeyOf } from "../../release/signing.js";
import { checkCalamares } from "../../render/calamares/validate.js";
import { STAGE_IDS, type StageId } from "../../stages/stage.js";
import { checkTools } from "../../tools/host.js";
import { quoteArgv } from "../../tools/shell-quote.js";
import { cacheDirFor, type GlobalOptions, reporterFor } from "../options.js";
import { writeReleaseFiles } from "./build-release.js";
import { buildImageAction } from "./image.js";

/** The plan's SOURCE_DATE_EPOCH, as the build resolves it (docs/releases.md). */
export async function epochOptions(
  profileDir: string,
): Promise<{ epoch?: number; baseEpoch?: number }> {
  return planEpochs(await resolveEpoch(profileDir));
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)}s`;
}

export function registerBuild(program: Command, globals: () => GlobalOptions): void {
  program
    .command("build")
    .description(
      "build the installer ISO described by atomiso.toml (stages are cached by their inputs)",
    )
    .addOption(new Option("--until <stage>", "stop after this stage").choices(STAGE_IDS))
    .addOption(
      new Option("--rebuild <stage...>", "rebuild these stages even if cached").choices(STAGE_IDS),
    )
    .option(
      "--no-payload",
      "build without the pinned system image (atomiso.lock): the ISO boots and shows the installer, which refuses to install",
    )
    .argument(
      "[what]",
      '"iso" (default), or "image": build the system image (same as `atomiso image build`)',
    )
    .action(
      async (
        what: string | undefined,
        opts: { until?: StageId; rebuild?: StageId[]; payload: boolean },
      ) => {
        if (what === "image") return buildImageAction(globals());
        if (what !== undefined && what !== "iso") {
          throw new AtomisoError(
            "usage",
            `unknown build target "${what}"`,
            "use `atomiso build` (the ISO) or `atomiso build image`",
          );
        }
        if (process.getuid?.() !== 0) {
          throw new AtomisoError(
            "not-root",
            "atomiso build must run as root: mmdebstrap, chroot and mounts need it",
            "run it with sudo",
          );
        }
        const loaded = await loadConfig(globals().config);
        checkCalamares(loaded);
        const epoch = await resolveEpoch(loaded.dir);
        const plan = await planIso(loaded, {
          ...planEpochs(epoch),
          noPayload: !opts.payload,
        });
        await checkTools([
          ...plan.steps.flatMap((s) => s.stage.definition.tools),
          "dpkg-query",
          "tar",
        ]);
        // A missing release key fails now, not after the build.
        const signing = signingKeyOf(loaded);
        if (signing) await checkSigningKey(signing, loaded.file);
        const cacheDir = cacheDirFor(globals());
        const log = new BuildLog(plan.output, [
          `atomiso ${packageVersion} build, ${new Date().toISOString()}`,
          `command: ${quoteArgv(process.argv.slice(1))}`,
          `config: ${plan.configFile}`,
          `cache: ${cacheDir}`,
          `output: ${plan.output} (${plan.installable ? "installer ISO" : "no payload"})`,
          `SOURCE_DATE_EPOCH: ${epoch.epoch ?? "none"} (${epoch.source})`,
          ...plan.steps.map(({ stage, key }) => `stage ${stage.definition.id} key ${key}`),
        ]);
        const reporter = reporterFor(globals(), { line: (l) => log.write(l) });
        const started = Date.now();
        let result: Awaited<ReturnType<typeof runPlan>>;
        try {
          result = await runPlan(plan, {
            cacheDir,
            reporter,
            ...(opts.until ? { until: opts.until } : {}),
            ...(opts.rebuild ? { rebuild: opts.rebuild } : {}),
          });
        } catch (err) {
          log.write(formatError(err));
          const path = log.close(`build failed after ${seconds(started)}`);
          console.error(`log: ${relativeToCwd(path)}`);
          throw err;
        }
        const built = result.stages.filter((s) => !s.cached).map((s) => s.id);
        reporter.info(
          `${built.length} stage(s) built${built.length ? ` (${built.join(", ")})` : ""}, ${result.stages.length - built.length} cached, ${seconds(started)}`,
        );
        // The SBOM and manifest are written while the log is open (their steps are in it); the
        // sums cover the closed log, so they come after it.
        let release: Awaited<ReturnType<typeof writeReleaseFiles>> | undefined;
        try {
          if (result.iso) {
            release = await writeReleaseFiles({
              iso: result.iso,
              plan,
              loaded,
              cacheDir,
              epoch,
              reporter,
              ...(signing ? { signing } : {}),
              beforeSums: () => log.close(`build finished after ${seconds(started)}`),
            });
          }
        } catch (err) {
          log.write(formatError(err));
          const path = log.close(`build failed after ${seconds(started)}`);
          console.error(`log: ${relativeToCwd(path)}`);
          throw err;
        }
        const logPath = release
          ? release.log
          : log.close(`build finished after ${seconds(started)}`);
        console.log(`log: ${relativeToCwd(logPath)}`);
        if (result.iso) {
          const size = (await stat(result.iso)).size;
          const what = plan.installable
            ? "installer ISO"
            : "ISO without payload (boots to the installer, which refuses to install; not for release)";
          console.log(
            `wrote ${relativeToCwd(result.iso)} (${(size / 1024 / 1024).toFixed(0)} MiB): ${what}`,
          );
          if (release) for (const line of release.summary) console.log(line);
        }
      },
    );
}
