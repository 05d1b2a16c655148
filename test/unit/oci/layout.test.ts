import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { digestOf } from "../../../src/oci/digest.js";
import { OciLayout, REF_NAME_ANNOTATION } from "../../../src/oci/layout.js";
import {
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  MediaType,
  parseManifest,
  selectPlatform,
} from "../../../src/oci/manifest.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "atomiso-layout-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Writes a one-layer image for `arch` into the layout and returns its manifest descriptor. */
async function writeImage(layout: OciLayout, arch: string, content: string) {
  const layer = await layout.writeBlob(Buffer.from(content), MediaType.ociLayerGzip);
  const config: ImageConfig = {
    architecture: arch,
    os: "linux",
    config: { Labels: { "containers.bootc": "1" } },
    rootfs: { type: "layers", diff_ids: [digestOf(content)] },
  };
  const configDesc = await layout.writeJsonBlob(config, MediaType.ociConfig);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: configDesc,
    layers: [layer],
  };
  return { manifest, layer, configDesc };
}

describe("OciLayout", () => {
  it("creates an empty layout with the marker and an empty index", async () => {
    const dir = join(root, "empty");
    const layout = await OciLayout.create(dir);
    expect(JSON.parse(await readFile(join(dir, "oci-layout"), "utf8"))).toEqual({
      imageLayoutVersion: "1.0.0",
    });
    expect(await layout.listManifests()).toEqual([]);
    expect(await layout.listTags()).toEqual([]);
    // Creating again opens the same layout.
    expect((await OciLayout.create(dir)).dir).toBe(dir);
  });

  it("round-trips a single-arch image with a ref name", async () => {
    const dir = join(root, "single");
    const layout = await OciLayout.create(dir);
    const { manifest, layer, configDesc } = await writeImage(layout, "amd64", "layer-bytes");
    const desc = await layout.addManifest(manifest, { refName: "v1" });
    expect(desc.mediaType).toBe(MediaType.ociManifest);
    expect(desc.annotations).toEqual({ [REF_NAME_ANNOTATION]: "v1" });

    const reopened = await OciLayout.open(dir);
    expect(await reopened.listTags()).toEqual(["v1"]);
    const image = await reopened.resolveImage("v1");
    expect(image.index).toBeUndefined();
    expect(image.manifestDescriptor.digest).toBe(desc.digest);
    expect(image.manifest.layers).toEqual([layer]);
    expect(image.manifest.config).toEqual(configDesc);
    expect(image.config.config?.Labels).toEqual({ "containers.bootc": "1" });
    // Without a name, the only entry is used.
    expect((await reopened.resolveImage()).manifestDescriptor.digest).toBe(desc.digest);

    const report = await reopened.verifyImage("v1");
    expect(report.blobs).toBe(3);
    expect(report.bytes).toBe(desc.size + configDesc.size + layer.size);

    // The blob is stored under its digest with exactly the bytes that were hashed.
    const stored = await readFile(reopened.blobPath(desc.digest));
    expect(digestOf(stored)).toBe(desc.digest);
  });

  it("moves a ref name to the newer manifest", async () => {
    const dir = join(root, "retag");
    const layout = await OciLayout.create(dir);
    const a = await layout.addManifest((await writeImage(layout, "amd64", "a")).manifest, {
      refName: "latest",
    });
    await layout.addManifest((await writeImage(layout, "amd64", "b")).manifest, { refName: "old" });
    const c = await layout.addManifest((await writeImage(layout, "amd64", "c")).manifest, {
      refName: "latest",
    });
    expect(await layout.listTags()).toEqual(["old", "latest"]);
    expect((await layout.findManifest("latest")).digest).toBe(c.digest);
    expect((await layout.listManifests()).some((d) => d.digest === a.digest)).toBe(false);
    await expect(layout.findManifest()).rejects.toThrow(/a ref name is needed/);
    await expect(layout.findManifest("nope")).rejects.toThrow(/no image named "nope"/);
    const d = (await writeImage(layout, "amd64", "d")).manifest;
    await layout.addManifest(d, { refName: "quay.io/fedora/fedora-bootc:42" });
    await expect(layout.addManifest(d, { refName: "bad name" })).rejects.toThrow(
      /not a valid ref name/,
    );
  });

  it("selects a platform from a multi-arch index and verifies all platforms", async () => {
    const dir = join(root, "multi");
    const layout = await OciLayout.create(dir);
    const children: Descriptor[] = [];
    for (const [arch, variant] of [
      ["arm64", "v8"],
      ["amd64", undefined],
    ] as const) {
      const { manifest } = await writeImage(layout, arch, `content-${arch}`);
      const d = await layout.writeJsonBlob(manifest, MediaType.ociManifest);
      children.push({
        ...d,
        platform: { os: "linux", architecture: arch, ...(variant ? { variant } : {}) },
      });
    }
    const index: ImageIndex = {
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: children,
    };
    const top = await layout.addManifest(index, { refName: "multi" });
    expect(top.mediaType).toBe(MediaType.ociIndex);

    const amd = await layout.resolveImage("multi");
    expect(amd.index?.manifests).toHaveLength(2);
    expect(amd.config.architecture).toBe("amd64");
    const arm = await layout.resolveImage("multi", { os: "linux", architecture: "arm64" });
    expect(arm.config.architecture).toBe("arm64");
    await expect(
      layout.resolveImage("multi", { os: "linux", architecture: "s390x" }),
    ).rejects.toThrow(
      /no manifest for platform linux\/s390x \(it has: linux\/arm64\/v8, linux\/amd64\)/,
    );

    expect((await layout.verifyImage("multi")).blobs).toBe(4);
    expect((await layout.verifyImage("multi", { allPlatforms: true })).blobs).toBe(7);
  });

  it("refuses blobs whose content does not match the expected digest", async () => {
    const layout = await OciLayout.create(join(root, "verify-write"));
    await expect(
      layout.writeBlob("abc", MediaType.ociLayer, digestOf("abd")),
    ).rejects.toMatchObject({ code: "oci-digest-mismatch" });
    const src = join(root, "src-file");
    await writeFile(src, "file content");
    await expect(
      layout.writeBlobFromFile(src, MediaType.ociLayer, digestOf("other")),
    ).rejects.toMatchObject({ code: "oci-digest-mismatch", expected: digestOf("other") });
    expect(await layout.hasBlob(digestOf("abc"))).toBe(false);
    expect(await layout.hasBlob(digestOf("file content"))).toBe(false);
    const ok = await layout.writeBlobFromFile(src, MediaType.ociLayer, digestOf("file content"));
    expect(ok).toEqual({
      mediaType: MediaType.ociLayer,
      digest: digestOf("file content"),
      size: 12,
    });
    expect(await layout.hasBlob(ok.digest)).toBe(true);
  });

  it("refuses a manifest that points at missing blobs", async () => {
    const layout = await OciLayout.create(join(root, "dangling"));
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: digestOf("nope"), size: 4 },
      layers: [],
    };
    await expect(layout.addManifest(manifest, { refName: "x" })).rejects.toThrow(
      /references blob sha256:[0-9a-f]{64} .* not in the layout/,
    );
    expect(await layout.listManifests()).toEqual([]);
  });

  it("detects a corrupted blob and a missing blob", async () => {
    const dir = join(root, "corrupt");
    const layout = await OciLayout.create(dir);
    const { manifest, layer, configDesc } = await writeImage(layout, "amd64", "good layer");
    await layout.addManifest(manifest, { refName: "t" });
    await writeFile(layout.blobPath(layer.digest), "evil layer");
    await expect(layout.verifyImage("t")).rejects.toMatchObject({
      code: "oci-digest-mismatch",
      expected: layer.digest,
      actual: digestOf("evil layer"),
    });
    await rm(layout.blobPath(configDesc.digest));
    await expect(layout.resolveImage("t")).rejects.toThrow(/blob sha256:\w+ is missing/);
  });

  it("reports a directory that is not a layout", async () => {
    await expect(OciLayout.open(join(root, "does-not-exist"))).rejects.toMatchObject({
      code: "oci-layout-invalid",
    });
    const dir = join(root, "bad-version");
    await OciLayout.create(dir);
    await writeFile(join(dir, "oci-layout"), '{"imageLayoutVersion":"9"}');
    await expect(OciLayout.open(dir)).rejects.toThrow(/unsupported imageLayoutVersion "9"/);
  });

  it("reads Docker schema 2 manifests too", async () => {
    const layout = await OciLayout.create(join(root, "docker"));
    const layer = await layout.writeBlob("docker layer", MediaType.dockerLayerGzip);
    const config = await layout.writeJsonBlob(
      { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } },
      MediaType.dockerConfig,
    );
    // Docker manifests are stored as given (the digest covers these exact bytes).
    const bytes = Buffer.from(
      `{\n  "schemaVersion": 2,\n  "mediaType": "${MediaType.dockerManifest}",\n  "config": ${JSON.stringify(config)},\n  "layers": [${JSON.stringify(layer)}]\n}`,
    );
    const desc = await layout.addManifest(bytes, { refName: "d" });
    expect(desc).toMatchObject({ mediaType: MediaType.dockerManifest, digest: digestOf(bytes) });
    expect((await layout.resolveImage("d")).manifest.layers[0]?.mediaType).toBe(
      MediaType.dockerLayerGzip,
    );
    expect((await layout.verifyImage("d")).blobs).toBe(3);
  });
});

describe("manifest parsing", () => {
  it("infers the kind when mediaType is absent", () => {
    expect(parseManifest('{"schemaVersion":2,"manifests":[]}', "x").kind).toBe("index");
    const d = { mediaType: MediaType.ociConfig, digest: digestOf("c"), size: 1 };
    expect(
      parseManifest(JSON.stringify({ schemaVersion: 2, config: d, layers: [] }), "x").kind,
    ).toBe("manifest");
  });

  it.each([
    ["not json", /not valid JSON/],
    ["[]", /not a JSON object/],
    ['{"schemaVersion":1}', /only 2 is supported/],
    ['{"schemaVersion":2,"mediaType":"text/plain"}', /unsupported manifest media type/],
    [
      '{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:1","size":1}]}',
      /invalid digest/,
    ],
    [
      `{"schemaVersion":2,"config":{"mediaType":"x","digest":"${digestOf("")}","size":-1},"layers":[]}`,
      /invalid size/,
    ],
  ])("rejects %s", (text, why) => {
    expect(() => parseManifest(text, "where")).toThrow(why);
  });

  it("prefers an entry without variant unless a variant is asked for", () => {
    const mk = (variant?: string): Descriptor => ({
      mediaType: MediaType.ociManifest,
      digest: digestOf(variant ?? "none"),
      size: 1,
      platform: { os: "linux", architecture: "arm", ...(variant ? { variant } : {}) },
    });
    const index: ImageIndex = { schemaVersion: 2, manifests: [mk("v6"), mk(), mk("v7")] };
    expect(selectPlatform(index, { os: "linux", architecture: "arm" }).digest).toBe(
      digestOf("none"),
    );
    expect(selectPlatform(index, { os: "linux", architecture: "arm", variant: "v7" }).digest).toBe(
      digestOf("v7"),
    );
  });
});
