// The system image commands: `atomiso image build`, `atomiso image lint <ref>`, `atomiso push`.
// `atomiso build image` reaches buildImageAction through the build command.
import { existsSync } from "node:fs";
import { relative } from "node:path";
import { type Command, CommanderError, Option } from "commander";
import { withInterruptHandling } from "../../build/interrupt.js";
import { loadConfig } from "../../config/load.js";
import { AtomisoError } from "../../errors.js";
import { buildImage } from "../../image/build.js";
import { formatFinding, formatSummary } from "../../image/lint.js";
import { type LintImageResult, lintImage } from "../../image/lint-image.js";
import { pushImage } from "../../image/push.js";
import { type ImageSettings, imageSettings } from "../../image/settings.js";
import type { Reporter } from "../../log/reporter.js";
import { resolveEpoch } from "../../release/epoch.js";
import { checkTools } from "../../tools/host.js";
import { cacheDirFor, type GlobalOptions, reporterFor } from "../options.js";

const DEFAULT_MAX_SIZE_MIB = 8192;

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new AtomisoError(
      "not-root",
      `atomiso ${what} must run as root: it uses rootful podman${what.includes("build") ? " and mmdebstrap" : ""}`,
      "run it with sudo",
    );
  }
}

/** Prints the findings and the summary; stops with exit status 1 when there are errors. */
function reportLint(result: LintImageResult, failWith?: string): void {
  for (const finding of result.report.findings) console.log(formatFinding(finding));
  const summary = formatSummary(result.subject, result.report);
  if (result.report.ok) {
    console.log(summary);
    return;
  }
  process.stderr.write(`${summary}${failWith ? `\n${failWith}` : ""}\n`);
  throw new CommanderError(1, "atomiso.image-not-installable", summary);
}

async function lintSettings(s: ImageSettings, reporter: Reporter): Promise<LintImageResult> {
  return reporter.step(`Lint ${s.tag}`, () =>
    lintImage(s.tag, {
      maxSizeBytes: s.maxSizeBytes,
      compression: s.compression,
      tlsVerify: s.tlsVerify,
      reporter,
    }),
  );
}

export interface BuildImageFlags {
  /** false: skip the lint after building. */
  lint?: boolean;
  rebuildBase?: boolean;
  /** false: ignore podman's layer cache. */
  cache?: boolean;
}

/** `atomiso image build` and `atomiso build image`. */
export async function buildImageAction(
  g: GlobalOptions,
  flags: BuildImageFlags = {},
): Promise<void> {
  requireRoot("image build");
  const loaded = await loadConfig(g.config);
  const s = imageSettings(loaded);
  await checkTools(["podman", ...(s.base ? ["mmdebstrap", "unshare"] : [])]);
  const reporter = reporterFor(g);
  const { epoch } = await resolveEpoch(loaded.dir);
  const built = await withInterruptHandling(() =>
    buildImage(s, {
      cacheDir: cacheDirFor(g),
      reporter,
      ...(epoch !== undefined ? { epoch } : {}),
      ...(flags.rebuildBase ? { rebuildBase: true } : {}),
      ...(flags.cache === false ? { noCache: true } : {}),
    }),
  );
  console.log(
    `${built.tag} (${built.id.slice(0, 12)}, ${mib(built.size)} unpacked, built in ${secs(built.durationMs)})`,
  );
  if (flags.lint === false) return;
  reportLint(await lintSettings(s, reporter));
}

export function registerImage(program: Command, globals: () => GlobalOptions): void {
  const image = program
    .command("image")
    .description("the bootable system image the installer deploys: build it, check it");

  image
    .command("build")
    .description(
      "build the system image from image.containerfile with podman (a Debian base root first, if [image.base] is set), then lint it",
    )
    .option("--no-lint", "do not lint the image after building it")
    .option("--rebuild-base", "bootstrap the base root again even if it is cached")
    .option("--no-cache", "ignore podman's layer cache")
    .action((opts: BuildImageFlags) => buildImageAction(globals(), opts));

  image
    .command("lint <ref>")
    .description(
      "check that an image is installable as an atomic system: a local image, a registry reference, oci:<dir>:<tag>, or a folder (./tree or dir:<path>)",
    )
    .option(
      "--max-size <MiB>",
      "largest unpacked size accepted (default image.max_size_mib or 8192)",
    )
    .addOption(
      new Option("--tls-verify <bool>", "use HTTPS with certificate checks when pulling").choices([
        "true",
        "false",
      ]),
    )
    .option("--authfile <file>", "auth.json to use when pulling (default: podman's)")
    .option("--json", "print the report as JSON")
    .action(
      async (
        ref: string,
        opts: { maxSize?: string; tlsVerify?: "true" | "false"; authfile?: string; json?: boolean },
      ) => {
        const g = globals();
        // The profile is optional here: any image can be linted, with its limits if there is one.
        const profile = existsSync(g.config)
          ? (await loadConfig(g.config)).config.image
          : undefined;
        let maxSizeMib = profile?.max_size_mib ?? DEFAULT_MAX_SIZE_MIB;
        if (opts.maxSize !== undefined) {
          maxSizeMib = Number(opts.maxSize);
          if (!Number.isInteger(maxSizeMib) || maxSizeMib <= 0) {
            throw new AtomisoError(
              "usage",
              `--max-size ${opts.maxSize} is not a whole number of MiB`,
              "e.g. --max-size 4096",
            );
          }
        }
        const isFolder = ref.startsWith("dir:") || ref.startsWith("/") || ref.startsWith(".");
        if (!isFolder) requireRoot("image lint");
        const result = await lintImage(ref, {
          maxSizeBytes: maxSizeMib * 1024 * 1024,
          tlsVerify: opts.tlsVerify ? opts.tlsVerify === "true" : (profile?.tls_verify ?? true),
          ...(profile?.compression ? { compression: profile.compression } : {}),
          ...(opts.authfile ? { authFile: opts.authfile } : {}),
          reporter: reporterFor(g),
        });
        if (opts.json) {
          console.log(JSON.stringify({ subject: result.subject, ...result.report }, null, 2));
          if (!result.report.ok) {
            throw new CommanderError(1, "atomiso.image-not-installable", "not installable");
          }
          return;
        }
        reportLint(result);
      },
    );

  program
    .command("push")
    .description(
      "lint the built system image, push it to image.reference and pin its digest in atomiso.lock",
    )
    .option("--authfile <file>", "auth.json to use (default: podman's, e.g. after `podman login`)")
    .option(
      "--channel",
      "also move image.track's tag (e.g. :stable) to the pushed image: installed systems then update to it",
    )
    .action(async (opts: { authfile?: string; channel?: boolean }) => {
      requireRoot("push");
      const g = globals();
      const loaded = await loadConfig(g.config);
      const s = imageSettings(loaded);
      await checkTools(["podman", "skopeo"]);
      const reporter = reporterFor(g);
      const linted = await lintSettings(s, reporter);
      reportLint(linted, "refusing to push an image that cannot be installed");
      const result = await withInterruptHandling(() =>
        pushImage(s, {
          reporter,
          backend: linted.report.backend,
          ...(linted.report.kernel ? { kernel: linted.report.kernel } : {}),
          luks: linted.report.luks,
          ...(opts.authfile ? { authFile: opts.authfile } : {}),
          ...(opts.channel ? { channel: true } : {}),
        }),
      );
      const where = relative(process.cwd(), result.lockFile) || result.lockFile;
      console.log(
        `${result.lock.pinned} (${mib(result.lock.size)} in the registry, pushed in ${secs(result.durationMs)})`,
      );
      console.log(`pinned in ${where}`);
      if (result.channel) console.log(`${result.channel} now points to ${result.lock.digest}`);
    });
}
