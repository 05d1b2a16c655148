// The update tool's file layer: `atomiso image build` adds atomiso-update and the deploy
// helpers it runs (verify-payload, unpack-layer, layout-store) on top of whatever the
// profile's Containerfile built, as one small last layer. It works for any Containerfile,
// needs no shell in the image, and a new atomiso changes only this layer (docs/updates.md).
import {
  chmod,
  copyFile,
  lutimes,
  mkdir,
  readdir,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { packageRoot } from "../paths.js";
import { type RenderedFile, writeTree } from "../render/file-tree.js";

/** Where the files go in the image (repository path → image path); programs are 0755. */
export const UPDATE_LAYER_FILES: readonly (readonly [string, string])[] = [
  ["installer-scripts/update/atomiso-update", "usr/lib/atomiso/update/atomiso-update"],
  ["installer-scripts/deploy/verify-payload", "usr/lib/atomiso/deploy/verify-payload"],
  ["installer-scripts/deploy/unpack-layer", "usr/lib/atomiso/deploy/unpack-layer"],
  ["installer-scripts/deploy/layout-store", "usr/lib/atomiso/deploy/layout-store"],
  // image.auto_update: the installers enable the timer in the deployment's /etc.
  [
    "installer-scripts/update/atomiso-update.service",
    "usr/lib/systemd/system/atomiso-update.service",
  ],
  ["installer-scripts/update/atomiso-update.timer", "usr/lib/systemd/system/atomiso-update.timer"],
];
/** The command on PATH: a relative symlink, so the tree works under any root. */
export const UPDATE_LAYER_LINK = ["usr/bin/atomiso-update", "../lib/atomiso/update/atomiso-update"];

/** 2000-01-01T00:00:00Z */
const FIXED_TIME = 946_684_800;

/**
 * Writes a build context for the file layer into `dir` and returns its Containerfile:
 * FROM the image just built, COPY the files, nothing run inside the image.
 */
export async function writeUpdateLayerContext(
  dir: string,
  baseImageId: string,
  /** More files for the layer: [image.signing]'s key and containers policy (signing.ts). */
  extraFiles: readonly RenderedFile[] = [],
): Promise<string> {
  const root = join(dir, "files");
  await writeTree(root, extraFiles);
  for (const [source, target] of UPDATE_LAYER_FILES) {
    await mkdir(join(root, target, ".."), { recursive: true });
    await copyFile(join(packageRoot, source), join(root, target));
    await chmod(join(root, target), target.startsWith("usr/lib/systemd/") ? 0o644 : 0o755);
  }
  const [link, to] = UPDATE_LAYER_LINK as [string, string];
  await mkdir(join(root, link, ".."), { recursive: true });
  await symlink(to, join(root, link));
  // Fixed times: the layer is the same bytes on every build, so podman's cache reuses it.
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    const path = join(e.parentPath, e.name);
    if (e.isSymbolicLink()) await lutimes(path, FIXED_TIME, FIXED_TIME);
    else await utimes(path, FIXED_TIME, FIXED_TIME);
  }
  await utimes(root, FIXED_TIME, FIXED_TIME);
  const containerfile = join(dir, "Containerfile");
  await writeFile(
    containerfile,
    [
      "# Written by atomiso image build: the update tool (docs/updates.md).",
      `FROM ${baseImageId}`,
      "COPY files/ /",
      "",
    ].join("\n"),
  );
  return containerfile;
}
