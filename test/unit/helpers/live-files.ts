// What the live-file tests render from: the example's product with the default live user, and
// reading one rendered file back as text.
import type { RenderedFile } from "../../../src/render/file-tree.js";
import type { LiveFilesOptions } from "../../../src/render/live-files.js";

export const EXAMPLE_LIVE: LiveFilesOptions = {
  productName: "ParticleOS",
  productId: "particleos",
  productVersion: "0.1.0",
  suite: "trixie",
  user: "live",
};

export function fileText(files: RenderedFile[], path: string): string {
  const f = files.find((x) => x.path === path);
  if (!f) throw new Error(`missing ${path}`);
  return String(f.content);
}
