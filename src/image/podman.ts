// argv builders for the podman and skopeo commands of the image pipeline, and parsers for the
// progress lines they print. Pure: nothing here runs a command (src/tools/exec.ts does).

export interface PodmanBuildOptions {
  containerfile: string;
  context: string;
  tag: string;
  buildArgs: Record<string, string>;
  /** podman writes the new image's id here. */
  iidFile: string;
  /** Ignore podman's layer cache. */
  noCache?: boolean;
  /** SOURCE_DATE_EPOCH: the image's created time and every file time in its new layers. */
  timestamp?: number;
}

export function podmanBuildArgv(o: PodmanBuildOptions): string[] {
  return [
    "podman",
    "build",
    "--file",
    o.containerfile,
    "--tag",
    o.tag,
    "--format",
    "oci",
    // podman's layer cache: an unchanged instruction on an unchanged parent is reused.
    "--layers=true",
    ...(o.noCache ? ["--no-cache"] : []),
    ...(o.timestamp !== undefined ? ["--timestamp", String(o.timestamp)] : []),
    "--iidfile",
    o.iidFile,
    ...Object.entries(o.buildArgs)
      .sort(([a], [b]) => a.localeCompare(b))
      .flatMap(([name, value]) => ["--build-arg", `${name}=${value}`]),
    o.context,
  ];
}

export interface PodmanImportOptions {
  tarball: string;
  name: string;
  labels: Record<string, string>;
  message: string;
}

export function podmanImportArgv(o: PodmanImportOptions): string[] {
  return [
    "podman",
    "import",
    ...Object.entries(o.labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .flatMap(([k, v]) => ["--change", `LABEL ${k}=${JSON.stringify(v)}`]),
    "--message",
    o.message,
    o.tarball,
    o.name,
  ];
}

export interface RegistryAccess {
  tlsVerify: boolean;
  /** An auth.json to use instead of the standard places (like --authfile). */
  authFile?: string;
}

function authArgs(a: RegistryAccess): string[] {
  return a.authFile ? ["--authfile", a.authFile] : [];
}

export interface PodmanPushOptions extends RegistryAccess {
  /** Local image (name:tag or id). */
  source: string;
  /** Registry reference, without transport. */
  destination: string;
  /** podman writes the digest of the pushed manifest here. */
  digestFile: string;
}

export function podmanPushArgv(o: PodmanPushOptions): string[] {
  return [
    "podman",
    "push",
    `--tls-verify=${o.tlsVerify}`,
    ...authArgs(o),
    "--digestfile",
    o.digestFile,
    o.source,
    `docker://${o.destination}`,
  ];
}

/**
 * Writes a local image into an OCI layout with zstd layers. Not straight to the registry:
 * podman 4.3 (Debian 12) reuses a gzip blob its blob-info cache knows the registry has for the
 * same layer, whatever --compression-format says; a fresh layout has nothing to reuse.
 */
export function podmanPushZstdLayoutArgv(source: string, layoutDir: string, tag: string): string[] {
  return [
    "podman",
    "push",
    "--quiet",
    "--compression-format",
    "zstd",
    source,
    `oci:${layoutDir}:${tag}`,
  ];
}

/** Uploads an OCI layout's image byte for byte (its manifest digest stays) to a registry. */
export function skopeoPushLayoutArgv(
  o: RegistryAccess & { layoutDir: string; tag: string; destination: string; digestFile: string },
): string[] {
  return [
    "skopeo",
    "copy",
    "--preserve-digests",
    `--dest-tls-verify=${o.tlsVerify}`,
    ...(o.authFile ? ["--dest-authfile", o.authFile] : []),
    "--digestfile",
    o.digestFile,
    `oci:${o.layoutDir}:${o.tag}`,
    `docker://${o.destination}`,
  ];
}

export function podmanPullArgv(reference: string, access: RegistryAccess): string[] {
  return [
    "podman",
    "pull",
    "--quiet",
    `--tls-verify=${access.tlsVerify}`,
    ...authArgs(access),
    reference,
  ];
}

/** Copies an image from any transport (oci:, oci-archive:, docker-archive:) into podman's store. */
export function skopeoCopyToStorageArgv(source: string, name: string): string[] {
  return ["skopeo", "copy", "--quiet", source, `containers-storage:${name}`];
}

/** Exit status 0: the image exists locally; 1: it does not. */
export function podmanImageExistsArgv(image: string): string[] {
  return ["podman", "image", "exists", image];
}

export function podmanInspectArgv(image: string): string[] {
  return ["podman", "image", "inspect", "--format", "json", image];
}

export function podmanMountArgv(image: string): string[] {
  return ["podman", "image", "mount", image];
}

export function podmanUnmountArgv(image: string): string[] {
  return ["podman", "image", "unmount", image];
}

export function podmanRemoveImageArgv(images: string[]): string[] {
  return ["podman", "image", "rm", "--force", ...images];
}

/** The manifest digest the registry serves for `reference`, as skopeo sees it. */
export function skopeoInspectDigestArgv(reference: string, access: RegistryAccess): string[] {
  return [
    "skopeo",
    "inspect",
    `--tls-verify=${access.tlsVerify}`,
    ...authArgs(access),
    "--format",
    "{{.Digest}}",
    `docker://${reference}`,
  ];
}

/** Registry to registry, keeping the manifest's bytes (so its digest): moves a tag. */
export function skopeoCopyArgv(
  o: RegistryAccess & { source: string; destination: string },
): string[] {
  return [
    "skopeo",
    "copy",
    "--quiet",
    "--preserve-digests",
    `--src-tls-verify=${o.tlsVerify}`,
    `--dest-tls-verify=${o.tlsVerify}`,
    ...authArgs(o),
    `docker://${o.source}`,
    `docker://${o.destination}`,
  ];
}

/** "STEP 3/7: RUN …" → 2/7 done (the step is starting). */
export function buildProgress(line: string): { fraction: number; label: string } | undefined {
  const m = /^STEP (\d+)\/(\d+): (.*)$/.exec(line);
  if (!m) return undefined;
  const n = Number(m[1]);
  const total = Number(m[2]);
  if (!(total > 0)) return undefined;
  const what = (m[3] ?? "").replace(/\s+/g, " ");
  return {
    fraction: (n - 1) / total,
    label: `step ${n}/${total}: ${what.length > 60 ? `${what.slice(0, 57)}...` : what}`,
  };
}

/** podman push prints "Copying blob sha256:…" per layer and "Writing manifest…" at the end. */
export function pushProgressTracker(): (
  line: string,
) => { fraction: number; label: string } | undefined {
  const started = new Set<string>();
  const finished = new Set<string>();
  return (line) => {
    const blob = /^Copying (blob|config) (?:sha256:)?([0-9a-f]{6,})/.exec(line);
    if (blob?.[2]) {
      const id = blob[2].slice(0, 12);
      if (/\bdone\b|skipped|already exists/.test(line)) finished.add(id);
      else started.add(id);
      const total = Math.max(started.size, finished.size, 1);
      return {
        fraction: Math.min(0.9, (finished.size / total) * 0.9),
        label: `${blob[1]} ${id}`,
      };
    }
    if (/^Writing manifest/.test(line)) return { fraction: 0.95, label: "manifest" };
    return undefined;
  };
}

/**
 * Copies the image pinned by `pinned` (registry/repo@digest) from the registry into an OCI
 * layout, byte for byte (--preserve-digests: the layout's manifest keeps the pinned digest).
 */
export function skopeoCopyToLayoutArgv(
  pinned: string,
  layoutDir: string,
  tag: string,
  access: RegistryAccess,
): string[] {
  return [
    "skopeo",
    "copy",
    "--preserve-digests",
    `--src-tls-verify=${access.tlsVerify}`,
    ...(access.authFile ? ["--src-authfile", access.authFile] : []),
    `docker://${pinned}`,
    `oci:${layoutDir}:${tag}`,
  ];
}
