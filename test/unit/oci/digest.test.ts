import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DigestMismatchError,
  digestOf,
  digestOfFile,
  formatDigest,
  isDigest,
  parseDigest,
  verifyDigest,
  verifyFileDigest,
} from "../../../src/oci/digest.js";

// sha256("hello") and sha512("hello"), from coreutils.
const HELLO256 = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
const HELLO512 =
  "sha512:9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043";

describe("digests", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "atomiso-digest-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("parses and formats sha256 and sha512", () => {
    expect(parseDigest(HELLO256)).toEqual({ algorithm: "sha256", hex: HELLO256.slice(7) });
    expect(formatDigest(parseDigest(HELLO512))).toBe(HELLO512);
  });

  it.each([
    "",
    "sha256",
    "sha256:",
    `sha256:${"a".repeat(63)}`,
    `sha256:${"a".repeat(65)}`,
    `sha256:${"A".repeat(64)}`,
    `sha256:${"g".repeat(64)}`,
    `sha512:${"a".repeat(64)}`,
    `sha384:${"a".repeat(96)}`,
    `SHA256:${"a".repeat(64)}`,
    `sha256:${"a".repeat(64)} `,
  ])("rejects %j", (text) => {
    expect(isDigest(text)).toBe(false);
    expect(() => parseDigest(text)).toThrow(/invalid digest/);
  });

  it("hashes buffers and strings", () => {
    expect(digestOf("hello")).toBe(HELLO256);
    expect(digestOf(Buffer.from("hello"), "sha512")).toBe(HELLO512);
  });

  it("hashes files by streaming", async () => {
    const path = join(dir, "f");
    await writeFile(path, "hello");
    expect(await digestOfFile(path)).toEqual({ digest: HELLO256, size: 5 });
    expect((await digestOfFile(path, "sha512")).digest).toBe(HELLO512);
    // Bigger than one stream chunk (64 KiB).
    const big = Buffer.alloc(300_000, 7);
    await writeFile(path, big);
    expect(await digestOfFile(path)).toEqual({ digest: digestOf(big), size: big.length });
  });

  it("verify passes on a match and reports expected vs actual on a mismatch", async () => {
    expect(() => verifyDigest("hello", HELLO256)).not.toThrow();
    expect(() => verifyDigest("hello", HELLO512)).not.toThrow();
    let err: unknown;
    try {
      verifyDigest("hellO", HELLO256, "the layer");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DigestMismatchError);
    const mismatch = err as DigestMismatchError;
    expect(mismatch.code).toBe("oci-digest-mismatch");
    expect(mismatch.expected).toBe(HELLO256);
    expect(mismatch.actual).toBe(digestOf("hellO"));
    expect(mismatch.message).toContain("the layer");
    expect(mismatch.message).toContain(HELLO256);
    expect(mismatch.message).toContain(digestOf("hellO"));
  });

  it("verifies files, including their size", async () => {
    const path = join(dir, "g");
    await writeFile(path, "hello");
    expect(await verifyFileDigest(path, HELLO256, 5)).toBe(5);
    await expect(verifyFileDigest(path, HELLO256, 6)).rejects.toThrow(/expected 6 bytes, got 5/);
    await expect(verifyFileDigest(path, digestOf("x"))).rejects.toThrow(DigestMismatchError);
  });
});
