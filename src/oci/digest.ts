// Content digests as OCI uses them ("sha256:<hex>"). Only the two algorithms the image spec
// registers are accepted, and the hex must be lowercase and of the right length: a registry
// or layout treats any other spelling as a different (unknown) blob.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { AtomisoError } from "../errors.js";

export type DigestAlgorithm = "sha256" | "sha512";

export interface Digest {
  algorithm: DigestAlgorithm;
  /** Lowercase hex. */
  hex: string;
}

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

export function isDigestAlgorithm(value: string): value is DigestAlgorithm {
  return value === "sha256" || value === "sha512";
}

/** Parses "sha256:<64 hex>" or "sha512:<128 hex>"; throws oci-invalid-reference otherwise. */
export function parseDigest(text: string): Digest {
  const colon = text.indexOf(":");
  const algorithm = colon < 0 ? "" : text.slice(0, colon);
  const hex = colon < 0 ? "" : text.slice(colon + 1);
  if (!isDigestAlgorithm(algorithm)) {
    throw new AtomisoError(
      "oci-invalid-reference",
      `invalid digest "${text}": the algorithm must be sha256 or sha512`,
      'write a digest as "sha256:" followed by 64 lowercase hex characters',
    );
  }
  const want = HEX_LENGTH[algorithm];
  if (hex.length !== want || !/^[0-9a-f]+$/.test(hex)) {
    throw new AtomisoError(
      "oci-invalid-reference",
      `invalid digest "${text}": ${algorithm} needs exactly ${want} lowercase hex characters`,
      'write a digest as "sha256:" followed by 64 lowercase hex characters',
    );
  }
  return { algorithm, hex };
}

export function isDigest(text: string): boolean {
  try {
    parseDigest(text);
    return true;
  } catch {
    return false;
  }
}

export function formatDigest(digest: Digest): string {
  return `${digest.algorithm}:${digest.hex}`;
}

export function digestOf(
  data: Buffer | Uint8Array | string,
  algorithm: DigestAlgorithm = "sha256",
) {
  return `${algorithm}:${createHash(algorithm).update(data).digest("hex")}`;
}

export interface FileDigest {
  digest: string;
  size: number;
}

/** Streams the file so that multi-GB layers never sit in memory. */
export async function digestOfFile(
  path: string,
  algorithm: DigestAlgorithm = "sha256",
): Promise<FileDigest> {
  const hash = createHash(algorithm);
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `${algorithm}:${hash.digest("hex")}`, size };
}

export class DigestMismatchError extends AtomisoError {
  readonly expected: string;
  readonly actual: string;

  constructor(what: string, expected: string, actual: string) {
    super(
      "oci-digest-mismatch",
      `digest mismatch for ${what}: expected ${expected}, got ${actual}`,
      "the content is corrupt or was changed after it was referenced; fetch or copy it again",
    );
    this.expected = expected;
    this.actual = actual;
  }
}

/** Throws DigestMismatchError unless `data` hashes to `expected` (using its algorithm). */
export function verifyDigest(data: Buffer | Uint8Array | string, expected: string, what = "data") {
  const { algorithm } = parseDigest(expected);
  const actual = digestOf(data, algorithm);
  if (actual !== expected) throw new DigestMismatchError(what, expected, actual);
}

/** Like verifyDigest for a file; also checks the size when one is given. Returns the size. */
export async function verifyFileDigest(
  path: string,
  expected: string,
  expectedSize?: number,
): Promise<number> {
  const { algorithm } = parseDigest(expected);
  const { digest, size } = await digestOfFile(path, algorithm);
  if (digest !== expected) throw new DigestMismatchError(path, expected, digest);
  if (expectedSize !== undefined && size !== expectedSize) {
    throw new AtomisoError(
      "oci-digest-mismatch",
      `size mismatch for ${path}: expected ${expectedSize} bytes, got ${size}`,
      "the content is corrupt or its descriptor is wrong; fetch or copy it again",
    );
  }
  return size;
}
