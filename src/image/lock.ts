// atomiso.lock: the system image an ISO installs, pinned by digest. `atomiso push` writes it
// next to atomiso.toml; the ISO build (possibly on another machine) reads it and needs nothing
// else to fetch exactly the image that was linted and pushed.
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { parse, stringify, TomlError } from "smol-toml";
import { z } from "zod";
import { AtomisoError } from "../errors.js";
import { isDigest } from "../oci/digest.js";
import { formatReference, fullName, parseReference } from "../oci/reference.js";

export const LOCK_VERSION = 1;

export interface ImageLock {
  /** The registry reference as configured (image.reference), with its tag. */
  reference: string;
  /** Digest of the pushed manifest. */
  digest: string;
  /** registry/repository@digest: what to pull to get exactly this image. */
  pinned: string;
  mediaType: string;
  /** Bytes in the registry: manifest, config and (compressed) layers. */
  size: number;
  /** Unpacked size of the image, as podman reported it before pushing. */
  unpackedSize: number;
  /** The image config's digest (podman's image id). */
  configDigest: string;
  /** When the image was built (from its config). */
  created: Date;
  /** When it was pushed. */
  pushed: Date;
  backend: "bootc" | "ostree";
  /** Kernel release found by the lint. */
  kernel?: string;
  /** The lint found that the image can unlock a LUKS root (absent: not known). */
  luks?: boolean;
  /** org.opencontainers.image.version, if the image has it. */
  version?: string;
  tlsVerify: boolean;
  /** What signed the image (`[image.signing]`), absent for an unsigned image. */
  signature?: LockSignature;
}

export interface LockSignature {
  /** containers' simple signing (an OpenPGP signature of the manifest digest and name). */
  type: "simple-signing";
  /** Upper-case fingerprint of the key that signed. */
  key: string;
  /** The signature file, relative to atomiso.lock (in its signatures/ lookaside folder). */
  file: string;
  /** sha256 of the signature file: the ISO build checks it before carrying the file. */
  sha256: string;
}

const HEADER = `# atomiso.lock: the system image this profile installs, pinned by \`atomiso push\`.
# Commit it with atomiso.toml; an ISO build reads the image from here. Do not edit by hand.

`;

const digest = z.string().refine(isDigest, { error: 'must be a digest such as "sha256:<64 hex>"' });
const date = z.union([z.date(), z.iso.datetime({ offset: true }).transform((s) => new Date(s))]);

const lockSchema = z.strictObject({
  lock_version: z.literal(LOCK_VERSION, {
    error: `must be ${LOCK_VERSION} (this atomiso reads lock version ${LOCK_VERSION})`,
  }),
  image: z.strictObject({
    reference: z.string().min(1),
    digest,
    pinned: z.string().min(1),
    media_type: z.string().min(1),
    size: z.int().min(0),
    unpacked_size: z.int().min(0),
    config_digest: digest,
    created: date,
    pushed: date,
    backend: z.enum(["bootc", "ostree"]),
    kernel: z.string().min(1).optional(),
    luks: z.boolean().optional(),
    version: z.string().min(1).optional(),
    tls_verify: z.boolean(),
    signature: z
      .strictObject({
        type: z.literal("simple-signing"),
        key: z.string().regex(/^[0-9A-F]{40}$/, { error: "must be a 40-hex key fingerprint" }),
        file: z
          .string()
          .regex(/^signatures\/[A-Za-z0-9._/-]+@sha256=[0-9a-f]{64}\/signature-[1-9][0-9]*$/, {
            error: "must be a signature file in the signatures/ folder beside atomiso.lock",
          })
          .refine((f) => !f.split("/").includes(".."), { error: "must not contain .." }),
        sha256: z.string().regex(/^[0-9a-f]{64}$/, { error: "must be 64 hex digits" }),
      })
      .optional(),
  }),
});

/** registry/repository@digest for a reference and a digest. */
export function pinnedReference(reference: string, manifestDigest: string): string {
  return `${fullName(parseReference(reference))}@${manifestDigest}`;
}

export function stringifyLock(lock: ImageLock): string {
  const image: Record<string, unknown> = {
    reference: lock.reference,
    digest: lock.digest,
    pinned: lock.pinned,
    media_type: lock.mediaType,
    size: lock.size,
    unpacked_size: lock.unpackedSize,
    config_digest: lock.configDigest,
    created: lock.created,
    pushed: lock.pushed,
    backend: lock.backend,
  };
  if (lock.kernel !== undefined) image.kernel = lock.kernel;
  if (lock.luks !== undefined) image.luks = lock.luks;
  if (lock.version !== undefined) image.version = lock.version;
  image.tls_verify = lock.tlsVerify;
  if (lock.signature) image.signature = { ...lock.signature };
  return HEADER + stringify({ lock_version: LOCK_VERSION, image });
}

export function parseLock(text: string, file: string): ImageLock {
  const invalid = (why: string) =>
    new AtomisoError(
      "config-invalid",
      `${file}: ${why}`,
      "run `atomiso push` to write it again (it is generated, do not edit it)",
      2,
    );
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    if (err instanceof TomlError) throw invalid(`not valid TOML: ${err.message.split("\n")[0]}`);
    throw err;
  }
  const result = lockSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw invalid(`${issue?.path.join(".") || "(top level)"}: ${issue?.message ?? "invalid"}`);
  }
  const i = result.data.image;
  try {
    parseReference(i.reference);
    const pinned = parseReference(i.pinned);
    if (pinned.digest !== i.digest)
      throw new Error(`pinned ${i.pinned} does not end in @${i.digest}`);
    if (i.signature && !i.signature.file.includes(`@sha256=${i.digest.slice(7)}/`))
      throw new Error(`signature.file ${i.signature.file} is not a signature of ${i.digest}`);
  } catch (err) {
    throw invalid((err as Error).message);
  }
  const lock: ImageLock = {
    reference: i.reference,
    digest: i.digest,
    pinned: i.pinned,
    mediaType: i.media_type,
    size: i.size,
    unpackedSize: i.unpacked_size,
    configDigest: i.config_digest,
    created: i.created,
    pushed: i.pushed,
    backend: i.backend,
    tlsVerify: i.tls_verify,
  };
  if (i.kernel !== undefined) lock.kernel = i.kernel;
  if (i.luks !== undefined) lock.luks = i.luks;
  if (i.version !== undefined) lock.version = i.version;
  if (i.signature !== undefined) lock.signature = { ...i.signature };
  return lock;
}

/** Writes through a temp file and rename, so a reader never sees half a lock. */
export async function writeLock(file: string, lock: ImageLock): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, stringifyLock(lock));
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}

export interface ReadLockOptions {
  /** image.reference of the profile: the lock must pin the same reference. */
  expectReference?: string;
}

/** Reads atomiso.lock; a missing file says how to make one. */
export async function readLock(file: string, options: ReadLockOptions = {}): Promise<ImageLock> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    throw new AtomisoError(
      "image-unpinned",
      `no image lock at ${file}: the system image has not been pinned yet`,
      "run `atomiso push` to pin the image (it builds on `atomiso image build`); `atomiso build --no-payload` makes an ISO that cannot install",
      2,
    );
  }
  const lock = parseLock(text, file);
  if (options.expectReference !== undefined) {
    const want = formatReference(parseReference(options.expectReference));
    const have = formatReference(parseReference(lock.reference));
    if (want !== have) {
      throw new AtomisoError(
        "config-invalid",
        `${file} pins ${lock.reference}, but image.reference in atomiso.toml is ${options.expectReference}`,
        "run `atomiso push` to pin the configured image",
        2,
      );
    }
  }
  return lock;
}
