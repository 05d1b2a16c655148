// Local images in podman's storage: what `podman image inspect` says about them, pulling one
// that is not there yet, and mounting one read-only to look at its files.
import { sha256 } from "../cache/hash.js";
import { AtomisoError } from "../errors.js";
import type { Reporter } from "../log/reporter.js";
import { run } from "../tools/exec.js";
import { armWatchdog } from "../tools/spawn.js";
import {
  podmanImageExistsArgv,
  podmanInspectArgv,
  podmanMountArgv,
  podmanPullArgv,
  podmanRemoveImageArgv,
  podmanUnmountArgv,
  type RegistryAccess,
  skopeoCopyToStorageArgv,
} from "./podman.js";

export interface ImageInfo {
  /** Image id (the config digest's hex). */
  id: string;
  names: string[];
  /** Unpacked size in bytes. */
  size: number;
  labels: Record<string, string>;
  architecture: string;
  os: string;
  /** ISO 8601, from the image config. */
  created: string;
}

interface InspectJson {
  Id?: string;
  RepoTags?: string[] | null;
  Size?: number;
  Labels?: Record<string, string> | null;
  Config?: { Labels?: Record<string, string> | null };
  Architecture?: string;
  Os?: string;
  Created?: string;
}

export function parseInspect(stdout: string, image: string): ImageInfo {
  let list: InspectJson[];
  try {
    list = JSON.parse(stdout) as InspectJson[];
  } catch (err) {
    throw new AtomisoError(
      "command-failed",
      `podman image inspect ${image} printed invalid JSON: ${(err as Error).message}`,
    );
  }
  const d = list[0];
  if (!d?.Id) throw new AtomisoError("command-failed", `podman image inspect ${image}: no image`);
  return {
    id: d.Id,
    names: d.RepoTags ?? [],
    size: d.Size ?? 0,
    labels: { ...(d.Config?.Labels ?? {}), ...(d.Labels ?? {}) },
    architecture: d.Architecture ?? "",
    os: d.Os ?? "",
    created: d.Created ?? "",
  };
}

export async function inspectImage(image: string): Promise<ImageInfo> {
  const { stdout } = await run(podmanInspectArgv(image), {
    hint: `check the name with \`podman images\`; build it with \`atomiso image build\``,
  });
  return parseInspect(stdout, image);
}

/** Transports that name a file or folder; podman would name the image after its path. */
const FILE_TRANSPORTS = new Set(["oci", "oci-archive", "docker-archive", "dir"]);

export async function localImageExists(image: string): Promise<boolean> {
  const { exitCode } = await run(podmanImageExistsArgv(image), { okExitCodes: [0, 1] });
  return exitCode === 0;
}

export interface LocalImage {
  id: string;
  /** A name made up for an image copied in from a file transport; remove it when done. */
  temporaryName?: string;
}

/**
 * The local image id of `ref`. A registry reference podman does not have yet is pulled; an
 * image in a file transport (`oci:<dir>:<tag>`, `oci-archive:`, `docker-archive:`) is copied in
 * with skopeo under a temporary name (podman pull would name it after the path, which fails for
 * paths with capitals).
 */
export async function ensureLocalImage(
  ref: string,
  access: RegistryAccess,
  reporter: Reporter,
): Promise<LocalImage> {
  const transport = /^([a-z-]+):(?!\d)/.exec(ref)?.[1];
  if (transport === "containers-storage") {
    return { id: (await inspectImage(ref.slice(transport.length + 1))).id };
  }
  if (transport !== undefined && FILE_TRANSPORTS.has(transport)) {
    const name = `localhost/atomiso-lint/${transport}:${sha256(ref).slice(0, 16)}`;
    await reporter.step(`Copy ${ref} into podman's store`, () =>
      run(skopeoCopyToStorageArgv(ref, name), {
        hint: `check that ${ref} exists (an OCI layout is oci:<dir>:<tag>)`,
        onLine: (line) => reporter.detail(line),
      }),
    );
    return { id: (await inspectImage(name)).id, temporaryName: name };
  }
  if (transport !== "docker" && (await localImageExists(ref))) {
    return { id: (await inspectImage(ref)).id };
  }
  const { stdout } = await reporter.step(`Pull ${ref}`, () =>
    run(podmanPullArgv(ref, access), {
      hint: `is "${ref}" a local image (podman images), a registry reference or oci:<dir>:<tag>? For a registry without TLS pass --tls-verify=false`,
      onLine: (line) => reporter.detail(line),
    }),
  );
  const id = stdout.trim().split("\n").at(-1)?.trim() ?? "";
  return { id: /^[0-9a-f]{64}$/.test(id) ? id : (await inspectImage(ref)).id };
}

/** Removes a name ensureLocalImage made up (the image stays if it has other names). */
export async function releaseLocalImage(image: LocalImage): Promise<void> {
  if (!image.temporaryName) return;
  await run(podmanRemoveImageArgv([image.temporaryName]), { okExitCodes: [0, 1, 2] });
}

/**
 * Mounts the image read-only (podman's overlay mount), runs fn on the mounted tree and unmounts,
 * also when fn throws. podman counts mounts, so concurrent users of one image are fine. The mount
 * is in the host's mount table (podman's storage), so a watchdog unmounts it if atomiso is
 * killed meanwhile by any signal (Ctrl-C, a closed terminal, SIGKILL). It is armed only once
 * the mount exists: one unmount too many would take away another user's mount.
 */
export async function withMountedImage<T>(
  image: string,
  fn: (root: string) => Promise<T>,
): Promise<T> {
  const { stdout } = await run(podmanMountArgv(image), {
    hint: "mounting images needs root (rootful podman)",
  });
  const root = stdout.trim();
  if (!root.startsWith("/")) {
    throw new AtomisoError(
      "command-failed",
      `podman image mount ${image} printed no path: ${root}`,
    );
  }
  const watchdog = armWatchdog(podmanUnmountArgv(image));
  try {
    return await fn(root);
  } finally {
    await run(podmanUnmountArgv(image), { okExitCodes: [0, 125] });
    await watchdog.disarm();
  }
}
