// The OCI library against real tools: Debian's docker-registry (once open, once behind
// htpasswd Basic auth) on 127.0.0.1, images pushed and pulled with skopeo.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { digestOf } from "../../src/oci/digest.js";
import { OciLayout } from "../../src/oci/layout.js";
import { type ImageConfig, type ImageManifest, MediaType } from "../../src/oci/manifest.js";
import { RegistryClient, RegistryError } from "../../src/oci/registry.js";
import { run } from "../../src/tools/exec.js";
import {
  startRegistry,
  stopRegistry,
  type TestRegistry,
  writeHtpasswd,
} from "../support/registry.js";

const TAG = "v1";
const NAME = "atomiso/test-image";
const USER = "atomiso";
const PASS = "correct-horse";

let work: string;
let layoutDir: string;
let layerDigest: string;
let localManifestDigest: string;
let open: TestRegistry;
let secured: TestRegistry;

async function skopeo(args: string[]): Promise<string> {
  const { stdout } = await run(["skopeo", "--insecure-policy", ...args], {
    // Keep the user's auth files out of it.
    env: { REGISTRY_AUTH_FILE: join(work, "skopeo-auth.json") },
    timeoutMs: 120_000,
  });
  return stdout;
}

/** A client that reaches the test registries over http and ignores real auth files. */
function client(extra: ConstructorParameters<typeof RegistryClient>[0] = {}): RegistryClient {
  return new RegistryClient({ tlsVerify: false, authFile: join(work, "no-auth.json"), ...extra });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "atomiso-oci-registry-"));

  const htpasswd = join(work, "htpasswd");
  await writeHtpasswd(htpasswd, USER, PASS);
  open = await startRegistry(work, "open");
  secured = await startRegistry(work, "secured", htpasswd);

  // A tiny image: one gzip tar layer, a config, a manifest, written with our layout writer.
  const rootfs = join(work, "rootfs");
  await mkdir(join(rootfs, "etc"), { recursive: true });
  await writeFile(join(rootfs, "etc", "atomiso-test"), "hello from atomiso\n");
  const layerPath = join(work, "layer.tar.gz");
  await run(["tar", "--create", "--gzip", "--file", layerPath, "--directory", rootfs, "etc"]);

  layoutDir = join(work, "layout");
  const layout = await OciLayout.create(layoutDir);
  const layer = await layout.writeBlobFromFile(layerPath, MediaType.ociLayerGzip);
  layerDigest = layer.digest;
  const config: ImageConfig = {
    architecture: "amd64",
    os: "linux",
    created: "2024-01-01T00:00:00Z",
    config: { Labels: { "org.opencontainers.image.title": "atomiso test" } },
    rootfs: { type: "layers", diff_ids: [digestOf(gunzipSync(await readFile(layerPath)))] },
    history: [{ created: "2024-01-01T00:00:00Z", created_by: "atomiso test" }],
  };
  const configDesc = await layout.writeJsonBlob(config, MediaType.ociConfig);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: configDesc,
    layers: [layer],
  };
  localManifestDigest = (await layout.addManifest(manifest, { refName: TAG })).digest;

  await skopeo([
    "copy",
    "--dest-tls-verify=false",
    `oci:${layoutDir}:${TAG}`,
    `docker://${open.host}/${NAME}:${TAG}`,
  ]);
  await skopeo([
    "copy",
    "--dest-tls-verify=false",
    "--dest-creds",
    `${USER}:${PASS}`,
    `oci:${layoutDir}:${TAG}`,
    `docker://${secured.host}/${NAME}:${TAG}`,
  ]);
});

afterAll(async () => {
  await Promise.all([open, secured].filter(Boolean).map(stopRegistry));
  if (work) await rm(work, { recursive: true, force: true });
});

describe("registry without auth", () => {
  it("resolveDigest matches skopeo inspect and the raw manifest's hash", async () => {
    const ref = `${open.host}/${NAME}:${TAG}`;
    const ours = await client().resolveDigest(ref);
    const inspected = (
      await skopeo(["inspect", "--tls-verify=false", "--format", "{{.Digest}}", `docker://${ref}`])
    ).trim();
    const raw = await skopeo(["inspect", "--tls-verify=false", "--raw", `docker://${ref}`]);
    expect(ours).toBe(inspected);
    expect(ours).toBe(digestOf(raw));
    // skopeo pushed our manifest bytes unchanged.
    expect(ours).toBe(localManifestDigest);
    expect((await client().getManifest(ref)).digest).toBe(ours);
  });

  it("pings the registry", async () => {
    expect((await client().ping(open.host)).status).toBe(200);
  });

  it("knows which blobs exist", async () => {
    const ref = `${open.host}/${NAME}`;
    expect(await client().blobExists(ref, layerDigest)).toBe(true);
    expect(await client().blobExists(ref, digestOf(randomBytes(32)))).toBe(false);
  });

  it("lists tags", async () => {
    expect(await client().listTags(`${open.host}/${NAME}`)).toContain(TAG);
  });

  it("names the registry and status for an unknown tag", async () => {
    const err = await client()
      .resolveDigest(`${open.host}/${NAME}:missing`)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).status).toBe(404);
    expect((err as RegistryError).message).toContain(`registry ${open.host}`);
  });

  it("round-trips through skopeo into a layout our reader verifies", async () => {
    const dir2 = join(work, "pulled");
    await skopeo([
      "copy",
      "--src-tls-verify=false",
      `docker://${open.host}/${NAME}:${TAG}`,
      `oci:${dir2}:${TAG}`,
    ]);
    const layout = await OciLayout.open(dir2);
    expect(await layout.listTags()).toEqual([TAG]);
    const image = await layout.resolveImage(TAG);
    expect(image.manifestDescriptor.digest).toBe(
      await client().resolveDigest(`${open.host}/${NAME}:${TAG}`),
    );
    expect(image.manifest.layers.map((l) => l.digest)).toEqual([layerDigest]);
    expect(image.config.config?.Labels?.["org.opencontainers.image.title"]).toBe("atomiso test");
    const report = await layout.verifyImage(TAG);
    expect(report.blobs).toBe(3);
  });
});

describe("registry with htpasswd Basic auth", () => {
  const ref = () => `${secured.host}/${NAME}:${TAG}`;

  it("resolves with the right credentials, given directly or in an auth.json", async () => {
    const inspected = (
      await skopeo([
        "inspect",
        "--tls-verify=false",
        "--creds",
        `${USER}:${PASS}`,
        "--format",
        "{{.Digest}}",
        `docker://${ref()}`,
      ])
    ).trim();
    expect(
      await client({ credentials: { username: USER, password: PASS } }).resolveDigest(ref()),
    ).toBe(inspected);

    const authFile = join(work, "auth.json");
    await writeFile(
      authFile,
      JSON.stringify({
        auths: { [secured.host]: { auth: Buffer.from(`${USER}:${PASS}`).toString("base64") } },
      }),
    );
    const fromFile = new RegistryClient({ tlsVerify: false, authFile });
    expect(await fromFile.resolveDigest(ref())).toBe(inspected);
    expect(await fromFile.blobExists(ref(), layerDigest)).toBe(true);
    expect(await fromFile.listTags(ref())).toContain(TAG);
  });

  it("fails with the registry name and HTTP 401 for wrong credentials", async () => {
    const err = await client({ credentials: { username: USER, password: "wrong" } })
      .resolveDigest(ref())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    const e = err as RegistryError;
    expect(e.code).toBe("registry-error");
    expect(e.status).toBe(401);
    expect(e.registry).toBe(secured.host);
    expect(e.message).toContain(`registry ${secured.host}`);
    expect(e.message).toContain("HTTP 401");
  });

  it("fails with 401 without credentials", async () => {
    const err = await client()
      .listTags(ref())
      .catch((e: unknown) => e);
    expect((err as RegistryError).status).toBe(401);
    expect((await client().ping(secured.host)).challenges[0]?.scheme).toBe("basic");
  });
});
