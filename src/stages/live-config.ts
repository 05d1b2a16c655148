// Stage "live-config": configures the live system (hostname, live user, sudo rule, SDDM
// autologin into the Calamares X11 session, the files overlay and the customisation hooks) as
// an overlay on the bootstrap tree. Only the changes (the overlay's upper dir) are kept; they
// become their own squashfs layer, so a config change never recompresses the base system.
import { chmod, copyFile, cp, mkdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { libexecDir } from "../paths.js";
import { writeTree } from "../render/file-tree.js";
import { type LiveFilesOptions, renderLiveFiles } from "../render/live-files.js";
import { run } from "../tools/exec.js";
import { inPrivateMountNamespace } from "../tools/namespace.js";
import type { StageDefinition } from "./stage.js";

export interface LiveConfigOptions {
  hostname: string;
  user: string;
  files: LiveFilesOptions;
  /** Absolute path of the profile's files overlay folder, if any. */
  overlay?: string;
  hooks: { pre: string[]; post: string[] };
}

async function stageHooks(dir: string, hooks: string[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  let i = 0;
  for (const hook of hooks) {
    const target = join(dir, `${String(i++).padStart(2, "0")}-${basename(hook)}`);
    await copyFile(hook, target);
    await chmod(target, 0o755);
  }
}

export const liveConfigStage: StageDefinition<LiveConfigOptions> = {
  id: "live-config",
  title: "Configure the live system",
  tools: ["unshare", "mount", "chroot"],
  module: import.meta.url,
  async run(ctx, o) {
    const bootstrap = ctx.inputs.bootstrap;
    const calamares = ctx.inputs.calamares;
    if (!bootstrap || !calamares)
      throw new Error("live-config needs the bootstrap and calamares stages");
    const files = join(ctx.tmpDir, "files");
    await writeTree(files, renderLiveFiles(o.files));
    await cp(calamares, files, { recursive: true, verbatimSymlinks: true });
    // The profile's overlay goes last, so it can replace any file atomiso wrote.
    if (o.overlay) await cp(o.overlay, files, { recursive: true, verbatimSymlinks: true });
    const hooksPre = join(ctx.tmpDir, "hooks-pre");
    const hooksPost = join(ctx.tmpDir, "hooks-post");
    await stageHooks(hooksPre, o.hooks.pre);
    await stageHooks(hooksPost, o.hooks.post);
    const upper = join(ctx.outDir, "upper");
    const work = join(ctx.tmpDir, "work");
    const merged = join(ctx.tmpDir, "merged");
    await Promise.all([upper, work, merged].map((d) => mkdir(d, { recursive: true, mode: 0o755 })));
    await chmod(upper, 0o755);
    await run(
      inPrivateMountNamespace([
        join(libexecDir, "live-config-session"),
        join(bootstrap, "root"),
        upper,
        work,
        merged,
        files,
        hooksPre,
        hooksPost,
        o.hostname,
        o.user,
      ]),
      {
        hint: "a customisation hook or the live configuration failed inside the chroot; its output is above",
        onLine: (line) => {
          ctx.reporter.detail(line);
          if (line.startsWith("atomiso: running")) ctx.reporter.info(line.replace("atomiso: ", ""));
        },
      },
    );
  },
};
