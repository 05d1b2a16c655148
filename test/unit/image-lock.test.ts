// atomiso.lock: written and read back unchanged, and every way of it being wrong or missing
// produces an error that says what to run.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "smol-toml";
import { afterAll, describe, expect, it } from "vitest";
import { AtomisoError } from "../../src/errors.js";
import {
  parseLock,
  pinnedReference,
  readLock,
  stringifyLock,
  writeLock,
} from "../../src/image/lock.js";
import { D1, D2, LOCK } from "../support/lock-fixture.js";

const work = await mkdtemp(join(tmpdir(), "atomiso-lock-"));
afterAll(() => rm(work, { recursive: true, force: true }));

describe("atomiso.lock", () => {
  it("round-trips through TOML", async () => {
    const file = join(work, "atomiso.lock");
    await writeLock(file, LOCK);
    const text = await readFile(file, "utf8");
    expect(text).toMatch(/^# atomiso.lock: the system image this profile installs/);
    const raw = parse(text) as { lock_version: number; image: Record<string, unknown> };
    expect(raw.lock_version).toBe(1);
    expect(raw.image.digest).toBe(D1);
    expect(raw.image.created).toBeInstanceOf(Date);
    expect(await readLock(file)).toEqual(LOCK);
  });

  it("leaves out optional keys and reads them back as absent", () => {
    const { kernel: _k, version: _v, ...rest } = LOCK;
    const text = stringifyLock(rest);
    expect(text).not.toContain("kernel");
    expect(parseLock(text, "x.lock")).toEqual(rest);
  });

  it("says how to make one when it is missing", async () => {
    const err = await readLock(join(work, "nope.lock")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AtomisoError);
    expect((err as AtomisoError).code).toBe("image-unpinned");
    expect((err as AtomisoError).exitCode).toBe(2);
    expect((err as AtomisoError).message).toContain("no image lock at");
    expect((err as AtomisoError).hint).toContain("run `atomiso push` to pin the image");
  });

  it("names the bad key of a damaged lock", () => {
    const text = stringifyLock(LOCK).replace(D1, "sha256:short").replace(D1, "sha256:short");
    expect(() => parseLock(text, "atomiso.lock")).toThrowError(
      /atomiso.lock: image.digest: must be a digest/,
    );
    expect(() => parseLock("lock_version = 2\n", "atomiso.lock")).toThrowError(
      /lock_version: must be 1/,
    );
    expect(() => parseLock("[image\n", "atomiso.lock")).toThrowError(/not valid TOML/);
    const wrongPin = stringifyLock({ ...LOCK, pinned: `127.0.0.1:5000/particleos/system@${D2}` });
    expect(() => parseLock(wrongPin, "atomiso.lock")).toThrowError(/does not end in @sha256:a/);
  });

  it("checks that it pins the configured reference", async () => {
    const file = join(work, "ref.lock");
    await writeFile(file, stringifyLock({ ...LOCK, reference: "example.org/os/system:1" }));
    await expect(
      readLock(file, { expectReference: "example.org/os/system:2" }),
    ).rejects.toThrowError(
      /pins example.org\/os\/system:1, but image.reference in atomiso.toml is example.org\/os\/system:2/,
    );
    await writeFile(file, stringifyLock({ ...LOCK, reference: "debian:13" }));
    // Equal after normalisation.
    expect((await readLock(file, { expectReference: "docker.io/library/debian:13" })).digest).toBe(
      D1,
    );
  });

  it("pins by repository and digest (no tag: skopeo refuses tag+digest)", () => {
    expect(pinnedReference("127.0.0.1:5000/particleos/system:0.1.0", D1)).toBe(
      `127.0.0.1:5000/particleos/system@${D1}`,
    );
    expect(pinnedReference("debian:13", D1)).toBe(`docker.io/library/debian@${D1}`);
  });
});
