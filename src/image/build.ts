// `atomiso image build`: the base root (if the profile has one), then podman build with the
// profile's Containerfile, context and build arguments. podman's layer cache makes an
// unchanged rebuild take seconds; its progress ("STEP n/m") feeds the reporter.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Reporter } from "../log/reporter.js";
import { run } from "../tools/exec.js";
import { ensureBaseRoot } from "./base-root.js";
import { inspectImage } from "./inspect.js";
import { buildProgress, podmanBuildArgv } from "./podman.js";
import type { ImageSettings } from "./settings.js";
import { renderSigningFiles } from "./signing.js";
import { writeUpdateLayerContext } from "./update-layer.js";

export interface BuildImageOptions {
  cacheDir: string;
  reporter: Reporter;
  /** Bootstrap the base root again even if it is cached. */
  rebuildBase?: boolean;
  /** Ignore podman's layer cache. */
  noCache?: boolean;
  /** SOURCE_DATE_EPOCH (podman build --timestamp): the same inputs give the same image. */
  epoch?: number;
}

export interface BuiltImage {
  tag: string;
  id: string;
  /** Unpacked size in bytes (podman's "Size"). */
  size: number;
  /** The base root image, when the profile has one. */
  base?: { image: string; cached: boolean };
  durationMs: number;
}

export async function buildImage(s: ImageSettings, o: BuildImageOptions): Promise<BuiltImage> {
  const started = Date.now();
  const buildArgs = { ...s.buildArgs };
  let base: BuiltImage["base"];
  if (s.base) {
    const settings = s.base;
    const result = await o.reporter.step("Base root", () =>
      ensureBaseRoot(settings, {
        cacheDir: o.cacheDir,
        reporter: o.reporter,
        ...(o.rebuildBase ? { rebuild: true } : {}),
      }),
    );
    buildArgs[settings.buildArg] = result.image;
    base = { image: result.image, cached: result.cached };
  }
  const scratch = await mkdtemp(join(tmpdir(), "atomiso-image-build-"));
  try {
    const iidFile = join(scratch, "iid");
    let cachedSteps = 0;
    await o.reporter.step(`podman build → ${s.tag}`, () =>
      run(
        podmanBuildArgv({
          containerfile: s.containerfile,
          context: s.context,
          tag: s.tag,
          buildArgs,
          iidFile,
          ...(o.noCache ? { noCache: true } : {}),
          ...(o.epoch !== undefined ? { timestamp: o.epoch } : {}),
        }),
        {
          hint: `the Containerfile failed (${s.containerfile}); the lines above show the failing step`,
          onLine: (line) => {
            o.reporter.detail(line);
            if (line.startsWith("--> Using cache")) cachedSteps += 1;
            const p = buildProgress(line);
            if (p) o.reporter.progress(p.fraction, p.label);
          },
        },
      ).then(() => {
        if (cachedSteps > 0) o.reporter.info(`${cachedSteps} step(s) reused from podman's cache`);
      }),
    );
    const userId = (await readFile(iidFile, "utf8")).trim().replace(/^sha256:/, "");
    // The update tool as one last file layer (src/image/update-layer.ts), tagged as the image.
    const layerDir = join(scratch, "update-layer");
    // Signed images carry the policy that verifies their updates (signing.ts).
    const signing = s.signing
      ? renderSigningFiles({
          fingerprint: s.signing.fingerprint,
          publicKey: await readFile(s.signing.publicKey),
          reference: s.reference,
          ...(s.track ? { track: s.track } : {}),
          ...(s.signing.lookaside ? { lookaside: s.signing.lookaside } : {}),
        })
      : [];
    const layerFile = await writeUpdateLayerContext(layerDir, userId, signing);
    await o.reporter.step("update tool layer", () =>
      run(
        podmanBuildArgv({
          containerfile: layerFile,
          context: layerDir,
          tag: s.tag,
          buildArgs: {},
          iidFile,
          ...(o.epoch !== undefined ? { timestamp: o.epoch } : {}),
        }),
        { hint: "adding the update tool (atomiso-update) to the image failed" },
      ),
    );
    const id = (await readFile(iidFile, "utf8")).trim().replace(/^sha256:/, "");
    const info = await inspectImage(id);
    const built: BuiltImage = { tag: s.tag, id, size: info.size, durationMs: Date.now() - started };
    if (base) built.base = base;
    return built;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
