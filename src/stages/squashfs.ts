// Stages "squashfs-base" and "squashfs-config": compress the bootstrap tree and the live
// configuration layer into two squashfs images that live-boot stacks (config on top).
import { join } from "node:path";
import { getfattrOverlayArgv, parseGetfattr, setfattrRemoveArgv } from "../tools/attr.js";
import { run } from "../tools/exec.js";
import { mksquashfsArgv, mksquashfsProgress } from "../tools/mksquashfs.js";
import type { StageContext, StageDefinition, StageId } from "./stage.js";

export interface SquashfsOptions {
  compression: "zstd" | "xz" | "gzip" | "lz4";
  level?: number;
  epoch?: number;
}

/**
 * Left out of the base layer: the live kernel and initrd (and the root's links to them). The
 * ISO carries both in /live (the kernel stage takes them from the bootstrap tree), nothing in
 * the running live system reads them (the installers install the image's own kernel), and
 * both are already compressed: in the squashfs they were 51.6 MiB of the live system twice.
 */
export const BASE_LAYER_EXCLUDES = [
  "boot/vmlinuz-*",
  "boot/initrd.img-*",
  "vmlinuz",
  "vmlinuz.old",
  "initrd.img",
  "initrd.img.old",
];

export const BASE_LAYER = "00-base.squashfs";
export const CONFIG_LAYER = "50-config.squashfs";

async function squash(
  ctx: StageContext,
  o: SquashfsOptions,
  source: string,
  name: string,
  exclude: readonly string[],
): Promise<void> {
  const argv = mksquashfsArgv({
    source,
    output: join(ctx.outDir, name),
    compression: o.compression,
    ...(o.level !== undefined ? { level: o.level } : {}),
    ...(o.epoch !== undefined ? { epoch: o.epoch } : {}),
    exclude,
  });
  await run(argv, {
    // The times come from -all-time/-mkfs-time; mksquashfs refuses to run when SOURCE_DATE_EPOCH
    // is also set (an inherited one would fail every build made with it).
    env: { SOURCE_DATE_EPOCH: undefined },
    onLine: (line) => {
      const p = mksquashfsProgress(line);
      if (p !== undefined) ctx.reporter.progress(p);
      else if (line.trim()) ctx.reporter.detail(line);
    },
  });
}

/**
 * A copy of an overlay's upper dir without overlayfs' bookkeeping xattrs (tools/attr.ts), so
 * the layer is the same in every build. The copy (cp -a keeps owners, modes, xattrs, whiteout
 * devices) leaves the cached stage output untouched; the layer is small.
 */
async function withoutOverlayBookkeeping(ctx: StageContext, upper: string): Promise<string> {
  const copy = join(ctx.tmpDir, "upper");
  await run(["cp", "-a", "--", upper, copy]);
  const { stdout } = await run(getfattrOverlayArgv(copy), { okExitCodes: [0, 1] });
  for (const [name, paths] of parseGetfattr(stdout)) await run(setfattrRemoveArgv(name, paths));
  return copy;
}

function layerStage(
  id: StageId,
  title: string,
  input: StageId,
  subdir: string,
  name: string,
  overlayUpper = false,
  exclude: readonly string[] = [],
): StageDefinition<SquashfsOptions> {
  return {
    id,
    title,
    tools: ["mksquashfs", ...(overlayUpper ? ["cp", "getfattr", "setfattr"] : [])],
    module: import.meta.url,
    async run(ctx, o) {
      const dir = ctx.inputs[input];
      if (!dir) throw new Error(`${id} needs the ${input} stage`);
      const source = join(dir, subdir);
      await squash(
        ctx,
        o,
        overlayUpper ? await withoutOverlayBookkeeping(ctx, source) : source,
        name,
        exclude,
      );
    },
  };
}

export const squashfsBaseStage = layerStage(
  "squashfs-base",
  "Compress the base system",
  "bootstrap",
  "root",
  BASE_LAYER,
  false,
  BASE_LAYER_EXCLUDES,
);
export const squashfsConfigStage = layerStage(
  "squashfs-config",
  "Compress the live configuration layer",
  "live-config",
  "upper",
  CONFIG_LAYER,
  true,
);
