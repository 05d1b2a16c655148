// Media types and the JSON shapes of manifests, image indexes and descriptors, shared by the
// layout reader and the registry client. Both OCI and Docker v2 schema 2 are understood because
// registries and `podman save` still hand out Docker manifests; the two are structurally equal.
import { AtomisoError, type ErrorCode } from "../errors.js";
import { isDigest } from "./digest.js";

export const MediaType = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  ociEmpty: "application/vnd.oci.empty.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

/** Everything we can read, for the registry's Accept header (schema 1 is deliberately absent). */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerManifestList,
  MediaType.dockerManifest,
];

export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList;
}

export function isManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.ociManifest || mediaType === MediaType.dockerManifest;
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
}

export const DEFAULT_PLATFORM: Platform = { os: "linux", architecture: "amd64" };

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
  artifactType?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** The parts of an image config we look at (labels tell us e.g. containers.bootc=1). */
export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  config?: {
    Labels?: Record<string, string>;
    Env?: string[];
    Entrypoint?: string[];
    Cmd?: string[];
    [key: string]: unknown;
  };
  rootfs: { type: "layers"; diff_ids: string[] };
  history?: Array<Record<string, unknown>>;
  [key: string]: unknown;
}

export type ParsedManifest =
  | { kind: "index"; mediaType: string; index: ImageIndex }
  | { kind: "manifest"; mediaType: string; manifest: ImageManifest };

/**
 * Parses manifest or index bytes and checks their shape. The media type comes from the JSON,
 * else from the descriptor or Content-Type (`hint`), else from the shape: the OCI spec makes
 * the mediaType field optional.
 */
export function parseManifest(
  bytes: Buffer | string,
  where: string,
  hint?: string,
  code: ErrorCode = "oci-layout-invalid",
): ParsedManifest {
  const bad = (why: string) => new AtomisoError(code, `${where}: ${why}`);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString());
  } catch (err) {
    throw bad(`not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(json)) throw bad("not a JSON object");
  if (json.schemaVersion !== 2) {
    throw bad(`schemaVersion is ${JSON.stringify(json.schemaVersion)}, only 2 is supported`);
  }
  const declared = typeof json.mediaType === "string" ? json.mediaType : undefined;
  const mediaType =
    declared ??
    (isIndexMediaType(hint) || isManifestMediaType(hint) ? hint : undefined) ??
    (Array.isArray(json.manifests) ? MediaType.ociIndex : MediaType.ociManifest);

  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(json.manifests)) throw bad("an image index needs a manifests array");
    json.manifests.forEach((d, i) => {
      checkDescriptor(d, `manifests[${i}]`, bad);
    });
    return { kind: "index", mediaType, index: json as unknown as ImageIndex };
  }
  if (isManifestMediaType(mediaType)) {
    checkDescriptor(json.config, "config", bad);
    if (!Array.isArray(json.layers)) throw bad("an image manifest needs a layers array");
    json.layers.forEach((d, i) => {
      checkDescriptor(d, `layers[${i}]`, bad);
    });
    return { kind: "manifest", mediaType, manifest: json as unknown as ImageManifest };
  }
  throw bad(`unsupported manifest media type "${mediaType}"`);
}

export function checkDescriptor(
  value: unknown,
  where: string,
  bad: (why: string) => Error,
): asserts value is Descriptor {
  if (!isObject(value)) throw bad(`${where} is not a descriptor object`);
  if (typeof value.mediaType !== "string" || value.mediaType === "") {
    throw bad(`${where} has no mediaType`);
  }
  if (typeof value.digest !== "string" || !isDigest(value.digest)) {
    throw bad(`${where} has an invalid digest ${JSON.stringify(value.digest)}`);
  }
  if (typeof value.size !== "number" || !Number.isSafeInteger(value.size) || value.size < 0) {
    throw bad(`${where} has an invalid size ${JSON.stringify(value.size)}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function formatPlatform(p: Platform | undefined): string {
  if (!p) return "(no platform)";
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

/**
 * Picks the manifest for `platform` from an index. os and architecture must match; a requested
 * variant must match too, otherwise an entry without variant (or the first one) wins. Entries
 * without a platform (attestations, artifacts) never match.
 */
export function selectPlatform(
  index: ImageIndex,
  platform: Platform = DEFAULT_PLATFORM,
  where = "image index",
): Descriptor {
  const candidates = index.manifests.filter(
    (d) =>
      d.platform?.os === platform.os &&
      d.platform.architecture === platform.architecture &&
      isManifestMediaType(d.mediaType),
  );
  const chosen = platform.variant
    ? candidates.find((d) => d.platform?.variant === platform.variant)
    : (candidates.find((d) => !d.platform?.variant) ?? candidates[0]);
  if (!chosen) {
    const available = index.manifests
      .filter((d) => d.platform)
      .map((d) => formatPlatform(d.platform))
      .join(", ");
    throw new AtomisoError(
      "oci-layout-invalid",
      `${where} has no manifest for platform ${formatPlatform(platform)} (it has: ${available || "none"})`,
      "pick one of the available platforms, or use an image built for this one",
    );
  }
  return chosen;
}
