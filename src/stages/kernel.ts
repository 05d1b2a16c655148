// Stage "kernel": takes the live system's kernel and its live-boot initrd out of the bootstrap.
import { copyFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { AtomisoError } from "../errors.js";
import type { StageDefinition } from "./stage.js";

/** Newest kernel version that has both a vmlinuz and an initrd in /boot. */
export function pickKernel(bootFiles: readonly string[]): string | undefined {
  const versions = bootFiles
    .filter((f) => f.startsWith("vmlinuz-"))
    .map((f) => f.slice("vmlinuz-".length))
    .filter((v) => bootFiles.includes(`initrd.img-${v}`));
  return versions.sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).at(-1);
}

export const kernelStage: StageDefinition<Record<string, never>> = {
  id: "kernel",
  title: "Extract kernel and initrd",
  tools: [],
  module: import.meta.url,
  async run(ctx) {
    const bootstrap = ctx.inputs.bootstrap;
    if (!bootstrap) throw new Error("kernel needs the bootstrap stage");
    const boot = join(bootstrap, "root", "boot");
    const version = pickKernel(await readdir(boot));
    if (!version) {
      throw new AtomisoError(
        "stage-failed",
        `no kernel with an initrd found in ${boot}`,
        "the live root must include linux-image-amd64 and live-boot (atomiso's base package set does)",
      );
    }
    ctx.reporter.info(`kernel ${version}`);
    await copyFile(join(boot, `vmlinuz-${version}`), join(ctx.outDir, "vmlinuz"));
    await copyFile(join(boot, `initrd.img-${version}`), join(ctx.outDir, "initrd.img"));
  },
};
