// An OCI image layout directory (what `skopeo copy … oci:<dir>:<tag>` writes and what
// `bootc install --source-imgref oci:<dir>` reads):
//
//   <dir>/oci-layout        {"imageLayoutVersion":"1.0.0"}
//   <dir>/index.json        an image index; entries carry org.opencontainers.image.ref.name
//   <dir>/blobs/<alg>/<hex> content-addressed blobs
//
// Every blob is hashed on its way in and checked on its way out, so a truncated copy is caught
// here and not deep inside an ISO build. Writes go through a temp file and rename so an
// interrupted write never leaves a half blob (or half index.json) under its final name.
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { AtomisoError } from "../errors.js";
import {
  type DigestAlgorithm,
  DigestMismatchError,
  digestOf,
  parseDigest,
  verifyDigest,
  verifyFileDigest,
} from "./digest.js";
import {
  checkDescriptor,
  DEFAULT_PLATFORM,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  MediaType,
  type ParsedManifest,
  type Platform,
  parseManifest,
  selectPlatform,
} from "./manifest.js";

export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";
const LAYOUT_VERSION = "1.0.0";
/** A ref name is a plain tag (what skopeo writes) or anything the image-layout spec allows. */
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const SPEC_COMPONENT = "[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*";
const SPEC_REF_RE = new RegExp(`^${SPEC_COMPONENT}(?:/${SPEC_COMPONENT})*$`);
/** Manifests and configs are read into memory; anything bigger than this is not one. */
const MAX_JSON_BLOB = 16 * 1024 * 1024;

/** An image resolved down to one platform. */
export interface ResolvedImage {
  /** The index.json entry we started from. */
  descriptor: Descriptor;
  /** Set when that entry was a multi-arch index. */
  index?: ImageIndex;
  manifestDescriptor: Descriptor;
  manifest: ImageManifest;
  config: ImageConfig;
}

export interface VerifyReport {
  blobs: number;
  bytes: number;
}

export interface AddManifestOptions {
  /** Tag inside the layout; an existing entry with the same name loses it. */
  refName?: string;
  /** Recorded in the index.json entry (useful for single-arch images in a shared layout). */
  platform?: Platform;
  annotations?: Record<string, string>;
}

export class OciLayout {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Opens an existing layout (checks oci-layout and index.json). */
  static async open(dir: string): Promise<OciLayout> {
    const layout = new OciLayout(dir);
    let marker: unknown;
    try {
      marker = JSON.parse(await readFile(join(dir, "oci-layout"), "utf8"));
    } catch (err) {
      throw layout.invalid(
        `cannot read ${join(dir, "oci-layout")}: ${(err as Error).message}`,
        "point at a directory written by `skopeo copy … oci:<dir>:<tag>`",
      );
    }
    const version = (marker as { imageLayoutVersion?: unknown } | null)?.imageLayoutVersion;
    if (version !== LAYOUT_VERSION) {
      throw layout.invalid(
        `unsupported imageLayoutVersion ${JSON.stringify(version)} (expected "${LAYOUT_VERSION}")`,
      );
    }
    await layout.readIndex();
    return layout;
  }

  /** Opens the layout at `dir`, creating an empty one if there is none. */
  static async create(dir: string): Promise<OciLayout> {
    const layout = new OciLayout(dir);
    const exists = await stat(join(dir, "oci-layout")).then(
      () => true,
      () => false,
    );
    if (exists) return OciLayout.open(dir);
    await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
    await layout.writeFileAtomic(
      "oci-layout",
      `${JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION })}\n`,
    );
    await layout.writeIndex({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] });
    return layout;
  }

  // ---- reading ----

  async readIndex(): Promise<ImageIndex> {
    const path = join(this.dir, "index.json");
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      throw this.invalid(`cannot read ${path}: ${(err as Error).message}`);
    }
    const parsed = parseManifest(bytes, path, MediaType.ociIndex);
    if (parsed.kind !== "index") throw this.invalid(`${path} is not an image index`);
    return parsed.index;
  }

  /** The entries of index.json. */
  async listManifests(): Promise<Descriptor[]> {
    return (await this.readIndex()).manifests;
  }

  /** Ref names (tags) in index.json, in file order. */
  async listTags(): Promise<string[]> {
    const tags: string[] = [];
    for (const d of await this.listManifests()) {
      const name = d.annotations?.[REF_NAME_ANNOTATION];
      if (name !== undefined) tags.push(name);
    }
    return tags;
  }

  /**
   * The index.json entry named `refName`; without a name, the only entry (as skopeo does for
   * "oci:<dir>" without a tag).
   */
  async findManifest(refName?: string): Promise<Descriptor> {
    const manifests = await this.listManifests();
    if (refName === undefined) {
      const only = manifests[0];
      if (manifests.length !== 1 || !only) {
        throw this.invalid(
          `index.json has ${manifests.length} entries, so a ref name is needed to pick one`,
          `name one of: ${(await this.listTags()).join(", ") || "(no named entries)"}`,
        );
      }
      return only;
    }
    const found = manifests.find((d) => d.annotations?.[REF_NAME_ANNOTATION] === refName);
    if (!found) {
      throw this.invalid(
        `no image named "${refName}" in index.json`,
        `available: ${(await this.listTags()).join(", ") || "(no named entries)"}`,
      );
    }
    return found;
  }

  blobPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.dir, "blobs", algorithm, hex);
  }

  async hasBlob(digest: string): Promise<boolean> {
    return stat(this.blobPath(digest)).then(
      (s) => s.isFile(),
      () => false,
    );
  }

  /** Reads a whole blob and checks its digest (and size, given a descriptor). For small blobs. */
  async readBlob(descriptor: Descriptor | string): Promise<Buffer> {
    const d = typeof descriptor === "string" ? { digest: descriptor, size: undefined } : descriptor;
    const path = this.blobPath(d.digest);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) throw this.invalid(`blob ${d.digest} is missing (${path})`);
    if (d.size !== undefined && info.size !== d.size) {
      throw new AtomisoError(
        "oci-digest-mismatch",
        `size mismatch for ${path}: expected ${d.size} bytes, got ${info.size}`,
        "the layout is corrupt; copy the image again",
      );
    }
    if (info.size > MAX_JSON_BLOB) {
      throw this.invalid(`blob ${d.digest} is ${info.size} bytes, too big to read into memory`);
    }
    const bytes = await readFile(path);
    verifyDigest(bytes, d.digest, path);
    return bytes;
  }

  /** Reads a manifest or index blob. */
  async readManifest(descriptor: Descriptor): Promise<ParsedManifest> {
    const bytes = await this.readBlob(descriptor);
    return parseManifest(bytes, this.blobPath(descriptor.digest), descriptor.mediaType);
  }

  async readConfig(descriptor: Descriptor): Promise<ImageConfig> {
    const path = this.blobPath(descriptor.digest);
    try {
      return JSON.parse((await this.readBlob(descriptor)).toString()) as ImageConfig;
    } catch (err) {
      if (err instanceof AtomisoError) throw err;
      throw this.invalid(`config ${path} is not valid JSON: ${(err as Error).message}`);
    }
  }

  /** Follows ref name -> (index -> platform) -> manifest -> config. */
  async resolveImage(
    refName?: string,
    platform: Platform = DEFAULT_PLATFORM,
  ): Promise<ResolvedImage> {
    const descriptor = await this.findManifest(refName);
    const top = await this.readManifest(descriptor);
    let index: ImageIndex | undefined;
    let manifestDescriptor = descriptor;
    let parsed = top;
    if (top.kind === "index") {
      index = top.index;
      manifestDescriptor = selectPlatform(index, platform, `${this.dir} ${refName ?? ""}`.trim());
      parsed = await this.readManifest(manifestDescriptor);
    }
    if (parsed.kind !== "manifest") {
      throw this.invalid(`${manifestDescriptor.digest} is a nested index; that is not supported`);
    }
    const config = await this.readConfig(parsed.manifest.config);
    const resolved: ResolvedImage = {
      descriptor,
      manifestDescriptor,
      manifest: parsed.manifest,
      config,
    };
    if (index) resolved.index = index;
    return resolved;
  }

  /**
   * Checks digest and size of every blob of an image: the index (if any), the manifest for the
   * platform (or for all platforms), its config and layers. Layers are streamed.
   */
  async verifyImage(
    refName?: string,
    options: { platform?: Platform; allPlatforms?: boolean } = {},
  ): Promise<VerifyReport> {
    const report: VerifyReport = { blobs: 0, bytes: 0 };
    const check = async (d: Descriptor) => {
      const path = this.blobPath(d.digest);
      if (!(await this.hasBlob(d.digest)))
        throw this.invalid(`blob ${d.digest} is missing (${path})`);
      report.bytes += await verifyFileDigest(path, d.digest, d.size);
      report.blobs += 1;
    };
    const checkManifest = async (d: Descriptor) => {
      await check(d);
      const parsed = await this.readManifest(d);
      if (parsed.kind !== "manifest") throw this.invalid(`${d.digest}: nested index not supported`);
      await check(parsed.manifest.config);
      for (const layer of parsed.manifest.layers) await check(layer);
    };

    const descriptor = await this.findManifest(refName);
    const top = await this.readManifest(descriptor);
    if (top.kind === "manifest") {
      await checkManifest(descriptor);
      return report;
    }
    await check(descriptor);
    const children = options.allPlatforms
      ? top.index.manifests
      : [selectPlatform(top.index, options.platform, this.dir)];
    for (const child of children) await checkManifest(child);
    return report;
  }

  // ---- writing ----

  /** Stores bytes as a blob; with `expectedDigest`, refuses content that does not match. */
  async writeBlob(
    data: Buffer | string,
    mediaType: string,
    expectedDigest?: string,
  ): Promise<Descriptor> {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    const algorithm: DigestAlgorithm = expectedDigest
      ? parseDigest(expectedDigest).algorithm
      : "sha256";
    const digest = digestOf(bytes, algorithm);
    if (expectedDigest !== undefined && digest !== expectedDigest) {
      throw new DigestMismatchError(`blob of type ${mediaType}`, expectedDigest, digest);
    }
    if (!(await this.hasBlob(digest))) {
      const tmp = await this.tempPath();
      try {
        await writeFile(tmp, bytes);
        await this.moveIntoPlace(tmp, digest);
      } finally {
        await rm(tmp, { force: true });
      }
    }
    return { mediaType, digest, size: bytes.length };
  }

  /** Copies a file into the blob store, hashing while copying (layers can be gigabytes). */
  async writeBlobFromFile(
    path: string,
    mediaType: string,
    expectedDigest?: string,
  ): Promise<Descriptor> {
    const algorithm: DigestAlgorithm = expectedDigest
      ? parseDigest(expectedDigest).algorithm
      : "sha256";
    const hash = createHash(algorithm);
    let size = 0;
    const tmp = await this.tempPath();
    try {
      await pipeline(
        createReadStream(path),
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            size += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(tmp),
      );
      const digest = `${algorithm}:${hash.digest("hex")}`;
      if (expectedDigest !== undefined && digest !== expectedDigest) {
        throw new DigestMismatchError(path, expectedDigest, digest);
      }
      await this.moveIntoPlace(tmp, digest);
      return { mediaType, digest, size };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Serialises `value` once and stores exactly those bytes (the digest covers the bytes). */
  async writeJsonBlob(value: unknown, mediaType: string): Promise<Descriptor> {
    return this.writeBlob(JSON.stringify(value), mediaType);
  }

  /**
   * Stores a manifest or index and lists it in index.json. Everything it references must
   * already be in the layout, so the layout is never left pointing at missing blobs.
   */
  async addManifest(
    manifest: ImageManifest | ImageIndex | Buffer,
    options: AddManifestOptions = {},
  ): Promise<Descriptor> {
    const bytes = Buffer.isBuffer(manifest) ? manifest : Buffer.from(JSON.stringify(manifest));
    const parsed = parseManifest(bytes, "manifest to add");
    const referenced =
      parsed.kind === "index"
        ? parsed.index.manifests
        : [parsed.manifest.config, ...parsed.manifest.layers];
    for (const d of referenced) {
      if (!(await this.hasBlob(d.digest))) {
        throw this.invalid(
          `manifest references blob ${d.digest} (${d.mediaType}) that is not in the layout`,
          "write the config and layers (or child manifests) before the manifest",
        );
      }
    }
    const descriptor = await this.writeBlob(bytes, parsed.mediaType);
    const annotations = { ...options.annotations };
    if (options.refName !== undefined) {
      if (!TAG_RE.test(options.refName) && !SPEC_REF_RE.test(options.refName)) {
        throw this.invalid(`"${options.refName}" is not a valid ref name for index.json`);
      }
      annotations[REF_NAME_ANNOTATION] = options.refName;
    }
    if (Object.keys(annotations).length > 0) descriptor.annotations = annotations;
    if (options.platform) descriptor.platform = options.platform;

    const index = await this.readIndex();
    const kept = index.manifests.filter((d) =>
      options.refName === undefined
        ? !(d.digest === descriptor.digest && d.annotations?.[REF_NAME_ANNOTATION] === undefined)
        : d.annotations?.[REF_NAME_ANNOTATION] !== options.refName,
    );
    await this.writeIndex({ ...index, manifests: [...kept, descriptor] });
    return descriptor;
  }

  // ---- internals ----

  private async writeIndex(index: ImageIndex): Promise<void> {
    for (const [i, d] of index.manifests.entries()) {
      checkDescriptor(d, `manifests[${i}]`, (why) =>
        this.invalid(`refusing to write index.json: ${why}`),
      );
    }
    await this.writeFileAtomic("index.json", `${JSON.stringify(index)}\n`);
  }

  private async writeFileAtomic(name: string, content: string): Promise<void> {
    const tmp = join(this.dir, `.${name}.${randomUUID()}.tmp`);
    try {
      await writeFile(tmp, content);
      await rename(tmp, join(this.dir, name));
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** A temp file beside the blobs, so the final rename stays on one filesystem. */
  private async tempPath(): Promise<string> {
    await mkdir(join(this.dir, "blobs"), { recursive: true });
    return join(this.dir, "blobs", `.atomiso-${randomUUID()}.tmp`);
  }

  private async moveIntoPlace(tmp: string, digest: string): Promise<void> {
    const target = this.blobPath(digest);
    await mkdir(dirname(target), { recursive: true });
    await rename(tmp, target);
  }

  private invalid(message: string, hint?: string): AtomisoError {
    return new AtomisoError(
      "oci-layout-invalid",
      `OCI layout ${this.dir}: ${message}`,
      hint ?? "copy the image into a fresh layout with `skopeo copy … oci:<dir>:<tag>`",
    );
  }
}
