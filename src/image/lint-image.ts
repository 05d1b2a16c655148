// `atomiso image lint <ref>`: finds the tree to lint (a folder, or an image podman has or can
// pull, mounted read-only for the duration) and runs the rules of lint.ts on it.
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { Reporter } from "../log/reporter.js";
import {
  ensureLocalImage,
  type ImageInfo,
  inspectImage,
  releaseLocalImage,
  withMountedImage,
} from "./inspect.js";
import { type LintReport, lintTree } from "./lint.js";
import type { RegistryAccess } from "./podman.js";
import { treeSize } from "./tree.js";

export interface LintImageOptions extends RegistryAccess {
  maxSizeBytes: number;
  compression?: "gzip" | "zstd";
  reporter: Reporter;
}

export interface LintImageResult {
  /** What was linted: the folder, or the image name and short id. */
  subject: string;
  report: LintReport;
  /** Set for images (not folders). */
  image?: ImageInfo;
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

export async function lintImage(ref: string, o: LintImageOptions): Promise<LintImageResult> {
  const folder = ref.startsWith("dir:") ? ref.slice("dir:".length) : ref;
  if (
    ref.startsWith("dir:") ||
    ((ref.startsWith("/") || ref.startsWith(".")) && (await isDirectory(folder)))
  ) {
    const root = resolve(folder);
    const size = await treeSize(root);
    const report = await lintTree(
      root,
      { size },
      { maxSizeBytes: o.maxSizeBytes, ...(o.compression ? { compression: o.compression } : {}) },
    );
    return { subject: root, report };
  }
  const access: RegistryAccess = { tlsVerify: o.tlsVerify };
  if (o.authFile) access.authFile = o.authFile;
  const local = await ensureLocalImage(ref, access, o.reporter);
  try {
    const image = await inspectImage(local.id);
    const report = await withMountedImage(local.id, (root) =>
      lintTree(
        root,
        { labels: image.labels, size: image.size, architecture: image.architecture },
        { maxSizeBytes: o.maxSizeBytes, ...(o.compression ? { compression: o.compression } : {}) },
      ),
    );
    return { subject: `${ref} (${image.id.slice(0, 12)})`, report, image };
  } finally {
    await releaseLocalImage(local);
  }
}
