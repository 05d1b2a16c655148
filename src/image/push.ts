// `atomiso push`: podman push to image.reference (with --tls-verify and the standard auth.json
// files), then three independent views of what the registry now serves must agree: the digest
// podman wrote, the one our registry client resolves, and the one skopeo inspect reports. Only
// then is the digest pinned in atomiso.lock.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { AtomisoError } from "../errors.js";
import type { Reporter } from "../log/reporter.js";
import { refuseCredentialsOverHttp } from "../oci/auth.js";
import { DigestMismatchError } from "../oci/digest.js";
import { parseManifest } from "../oci/manifest.js";
import { parseReference } from "../oci/reference.js";
import { RegistryClient } from "../oci/registry.js";
import { run } from "../tools/exec.js";
import { inspectImage, localImageExists } from "./inspect.js";
import type { Backend } from "./lint.js";
import { type ImageLock, pinnedReference, writeLock } from "./lock.js";
import {
  podmanPushArgv,
  podmanPushZstdLayoutArgv,
  pushProgressTracker,
  type RegistryAccess,
  skopeoCopyArgv,
  skopeoInspectDigestArgv,
  skopeoPushLayoutArgv,
} from "./podman.js";
import type { ImageSettings } from "./settings.js";
import { signManifest } from "./sign-image.js";

export interface PushImageOptions {
  reporter: Reporter;
  /** auth.json to use instead of the standard places. */
  authFile?: string;
  /** From the lint that cleared the image for pushing. */
  backend: Backend;
  kernel?: string;
  luks?: boolean;
  /** Move image.track's tag to the pushed image (`atomiso push --channel`). */
  channel?: boolean;
  /** For tests: when the push happened. */
  now?: Date;
  /** The signing key's passphrase file (default $ATOMISO_SIGNING_PASSPHRASE_FILE). */
  passphraseFile?: string;
  /** The gpg home holding the signing key (default GNUPGHOME or ~/.gnupg). */
  gnupgHome?: string;
}

export interface PushResult {
  lock: ImageLock;
  lockFile: string;
  /** The channel reference moved to the pushed digest (with --channel). */
  channel?: string;
  durationMs: number;
}

/**
 * The reference `--channel` moves: image.track's tag in image.reference's repository, on the
 * registry host the build machine uses (installed systems may reach the same registry under
 * another name, e.g. 10.0.2.100:5000 from a QEMU guest for 127.0.0.1:5000). Refuses a track in
 * another repository: the pushed blobs are not there, so moving its tag is a release step of
 * its own (skopeo copy).
 */
export function channelReference(reference: string, track: string | undefined): string {
  if (!track) {
    throw new AtomisoError(
      "usage",
      "--channel needs image.track (the reference installed systems update from)",
      'set image.track, e.g. "registry.example.org/particleos/system:stable"',
    );
  }
  const pushed = parseReference(reference);
  const tracked = parseReference(track);
  if (tracked.repository !== pushed.repository || !tracked.tag) {
    throw new AtomisoError(
      "usage",
      `image.track ${track} is not a tag of the repository image.reference pushes to (${pushed.repository})`,
      "move that tag with your release process (skopeo copy --preserve-digests), or make image.track a tag of image.reference's repository",
    );
  }
  const name = reference.replace(/@.*$/, "");
  const slash = name.lastIndexOf("/");
  const colon = name.lastIndexOf(":");
  const repo = colon > slash ? name.slice(0, colon) : name;
  return `${repo}:${tracked.tag}`;
}

export async function pushImage(s: ImageSettings, o: PushImageOptions): Promise<PushResult> {
  const started = Date.now();
  if (!(await localImageExists(s.tag))) {
    throw new AtomisoError(
      "usage",
      `there is no local image ${s.tag} to push`,
      "build it first with `atomiso image build`",
    );
  }
  const channel = o.channel ? channelReference(s.reference, s.track) : undefined;
  const info = await inspectImage(s.tag);
  const access: RegistryAccess = { tlsVerify: s.tlsVerify };
  if (o.authFile) access.authFile = o.authFile;

  const client = new RegistryClient({
    tlsVerify: s.tlsVerify,
    ...(o.authFile ? { authFile: o.authFile } : {}),
  });
  const target = parseReference(s.reference);
  // podman would send auth.json's credentials for the registry over plain http: refuse first.
  await refuseCredentialsOverHttp(target.registry, target.repository, access);
  // Fail fast with the registry's address when it is down, instead of podman's retries.
  await client.ping(target.registry);

  const scratch = await mkdtemp(join(tmpdir(), "atomiso-push-"));
  let pushed: string;
  try {
    const digestFile = join(scratch, "digest");
    const progress = pushProgressTracker();
    const upload = {
      hint: `check that the registry is reachable and that you are logged in (podman login ${s.reference.split("/")[0]})${s.tlsVerify ? "; a registry without TLS needs image.tls_verify = false" : ""}`,
      onLine: (line: string) => {
        o.reporter.detail(line);
        const p = progress(line);
        if (p) o.reporter.progress(p.fraction, p.label);
      },
    };
    if (s.compression === "zstd") {
      const layoutDir = join(scratch, "layout");
      await o.reporter.step(`Compress the layers of ${s.tag} with zstd`, () =>
        run(podmanPushZstdLayoutArgv(s.tag, layoutDir, "push"), {
          hint: "podman could not write the image with zstd layers; is there room in the temp folder?",
        }),
      );
      await o.reporter.step(`skopeo copy ${s.tag} (zstd) → ${s.reference}`, () =>
        run(
          skopeoPushLayoutArgv({
            ...access,
            layoutDir,
            tag: "push",
            destination: s.reference,
            digestFile,
          }),
          upload,
        ),
      );
    } else {
      await o.reporter.step(`podman push ${s.tag} → ${s.reference}`, () =>
        run(
          podmanPushArgv({ ...access, source: s.tag, destination: s.reference, digestFile }),
          upload,
        ),
      );
    }
    pushed = (await readFile(digestFile, "utf8")).trim();
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }

  const { digest, manifest } = await o.reporter.step("Verify the pushed digest", async () => {
    const resolved = await client.resolveDigest(s.reference);
    const { stdout } = await run(skopeoInspectDigestArgv(s.reference, access));
    const inspected = stdout.trim();
    for (const [who, value] of [
      ["our registry client", resolved],
      ["skopeo inspect", inspected],
    ] as const) {
      if (value !== pushed) {
        throw new DigestMismatchError(`${s.reference} (podman push vs ${who})`, pushed, value);
      }
    }
    const fetched = await client.getManifest(pinnedReference(s.reference, pushed));
    return { digest: pushed, manifest: fetched };
  });

  const parsed = parseManifest(manifest.bytes, s.reference, manifest.mediaType, "registry-error");
  const size =
    manifest.bytes.length +
    (parsed.kind === "manifest"
      ? parsed.manifest.config.size + parsed.manifest.layers.reduce((n, l) => n + l.size, 0)
      : 0);
  const configDigest =
    parsed.kind === "manifest" ? parsed.manifest.config.digest : `sha256:${info.id}`;

  const lock: ImageLock = {
    reference: s.reference,
    digest,
    pinned: pinnedReference(s.reference, digest),
    mediaType: manifest.mediaType || parsed.mediaType,
    size,
    unpackedSize: info.size,
    configDigest,
    created: new Date(info.created),
    pushed: o.now ?? new Date(),
    backend: o.backend,
    tlsVerify: s.tlsVerify,
  };
  const signing = s.signing;
  if (signing) {
    const passphraseFile = o.passphraseFile ?? process.env.ATOMISO_SIGNING_PASSPHRASE_FILE;
    lock.signature = await o.reporter.step(`sign ${digest} with ${signing.fingerprint}`, () =>
      signManifest({
        reference: s.reference,
        digest,
        manifest: manifest.bytes,
        fingerprint: signing.fingerprint,
        lockDir: dirname(s.lockFile),
        ...(passphraseFile ? { passphraseFile } : {}),
        ...(o.gnupgHome ? { gnupgHome: o.gnupgHome } : {}),
      }),
    );
  }
  if (o.kernel !== undefined) lock.kernel = o.kernel;
  if (o.luks !== undefined) lock.luks = o.luks;
  const version = info.labels["org.opencontainers.image.version"];
  if (version) lock.version = version;
  await writeLock(s.lockFile, lock);
  const result: PushResult = { lock, lockFile: s.lockFile, durationMs: Date.now() - started };
  if (channel) {
    // Registry to registry by digest: every blob is already there, only the tag moves.
    await o.reporter.step(`move ${channel} → ${digest}`, async () => {
      await run(skopeoCopyArgv({ ...access, source: lock.pinned, destination: channel }), {
        hint: `moving the channel tag ${channel} failed; the image itself is pushed and pinned`,
      });
      const now = await client.resolveDigest(channel);
      if (now !== digest) throw new DigestMismatchError(`${channel} (moved channel)`, digest, now);
    });
    result.channel = channel;
  }
  result.durationMs = Date.now() - started;
  return result;
}
