// A tiny one-layer OCI image layout with correct digests (tar layer, config, manifest,
// index.json), so the real verify-payload accepts it: the payload of the installer tests.
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { run } from "../../src/tools/exec.js";

function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * A one-layer OCI image layout that verify-payload accepts; returns its manifest digest.
 * `files` (path in the image -> content) are added to the layer.
 */
export async function makeTinyLayout(
  dir: string,
  work: string,
  files: Record<string, string | Buffer> = {},
): Promise<string> {
  const blobs = join(dir, "blobs/sha256");
  await mkdir(blobs, { recursive: true });
  const blob = async (data: Buffer | string) => {
    const hex = sha256(data);
    await writeFile(join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: Buffer.byteLength(data) };
  };
  const tree = join(work, "layer-tree");
  await mkdir(join(tree, "usr/lib"), { recursive: true });
  await writeFile(join(tree, "usr/lib/os-release"), "ID=tiny\n".repeat(300));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(tree, path)), { recursive: true });
    await writeFile(join(tree, path), content);
  }
  const tar = join(work, "layer.tar");
  await run([
    "tar",
    "--create",
    "--file",
    tar,
    "--directory",
    tree,
    "--owner=0",
    "--group=0",
    ...new Set(["usr", ...Object.keys(files).map((p) => p.split("/")[0] ?? "usr")]),
  ]);
  const layerData = await readFile(tar);
  const layer = await blob(layerData);
  const config = await blob(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Labels: { "org.opencontainers.image.version": "0.1.0" } },
      rootfs: { type: "layers", diff_ids: [layer.digest] },
    }),
  );
  const manifest = await blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
    }),
  );
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest }],
    }),
  );
  return manifest.digest;
}
