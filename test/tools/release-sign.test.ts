// Release checksums and signatures with the real tools: SHA256SUMS that `sha256sum -c` accepts
// (and that keeps another ISO's lines), signed with a throwaway gpg key and verified by gpg;
// a tampered file, a missing key and a signature by another key are refused.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AtomisoError } from "../../src/errors.js";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { checkSigningKey } from "../../src/release/signing.js";
import { writeSumsAndSignature } from "../../src/release/write.js";
import { run } from "../../src/tools/exec.js";
import { gpgVerifyArgv, validSignatureFingerprint } from "../../src/tools/gpg.js";

async function makeKey(home: string, name: string): Promise<string> {
  await run([
    "gpg",
    "--batch",
    "--homedir",
    home,
    "--passphrase",
    "",
    "--quick-gen-key",
    `${name} <${name}@example.invalid>`,
    "ed25519",
    "sign",
    "never",
  ]);
  const { stdout } = await run([
    "gpg",
    "--batch",
    "--homedir",
    home,
    "--with-colons",
    "--list-secret-keys",
  ]);
  const fpr = stdout
    .split("\n")
    .find((l) => l.startsWith("fpr:"))
    ?.split(":")[9];
  if (!fpr) throw new Error("no fingerprint");
  return fpr;
}

describe("SHA256SUMS and its OpenPGP signature", async () => {
  // Short paths: gpg-agent's socket path must fit in sun_path.
  const work = await mkdtemp(join(tmpdir(), "ar-"));
  const home = join(work, "g1");
  const other = join(work, "g2");
  await run(["mkdir", "-m", "700", home, other]);
  const key = await makeKey(home, "release");
  const otherKey = await makeKey(other, "someone");
  afterAll(async () => {
    for (const h of [home, other])
      await run(["gpgconf", "--homedir", h, "--kill", "all"]).catch(() => undefined);
    await safeRemove(work);
  });
  const out = join(work, "out");
  await run(["mkdir", out]);
  const iso = join(out, "os-1.0.iso");
  await writeFile(iso, "an iso\n");
  await writeFile(`${iso}.log`, "a log\n");
  await writeFile(`${iso}.spdx.json`, "{}\n");
  await writeFile(`${iso}.manifest.json`, "{}\n");
  // Another ISO's line in the same folder, written earlier.
  await writeFile(join(out, "other-2.0.iso"), "another\n");
  const { stdout: otherLine } = await run(["sha256sum", "other-2.0.iso"], { cwd: out });
  await writeFile(join(out, "SHA256SUMS"), otherLine);

  it("writes sums sha256sum -c accepts, keeping the other ISO's line", async () => {
    const r = await writeSumsAndSignature(iso, undefined);
    expect(r.signature).toBeUndefined();
    const check = await run(["sha256sum", "--strict", "-c", "SHA256SUMS"], { cwd: out });
    expect(check.stdout.trim().split("\n").sort()).toEqual([
      "os-1.0.iso.log: OK",
      "os-1.0.iso.manifest.json: OK",
      "os-1.0.iso.spdx.json: OK",
      "os-1.0.iso: OK",
      "other-2.0.iso: OK",
    ]);
    // A rebuild replaces its own lines, never duplicates them.
    await writeFile(iso, "a rebuilt iso\n");
    await writeSumsAndSignature(iso, undefined);
    const text = await readFile(join(out, "SHA256SUMS"), "utf8");
    expect(text.split("\n").filter((l) => l.endsWith("  os-1.0.iso"))).toHaveLength(1);
    await run(["sha256sum", "--strict", "-c", "SHA256SUMS"], { cwd: out });
  });

  it("refuses a tampered file in sha256sum -c", async () => {
    await writeFile(`${iso}.manifest.json`, '{"x":1}\n');
    const r = await run(["sha256sum", "-c", "SHA256SUMS"], { cwd: out, okExitCodes: [1] });
    expect(r.stdout).toContain("os-1.0.iso.manifest.json: FAILED");
    await writeFile(`${iso}.manifest.json`, "{}\n");
  });

  it("checks the signing key before a build: present passes, absent is refused by name", async () => {
    await checkSigningKey({ fingerprint: key, homedir: home }, "atomiso.toml");
    await expect(
      checkSigningKey({ fingerprint: otherKey, homedir: home }, "atomiso.toml"),
    ).rejects.toThrow(/release\.signing_key: GNUPGHOME .* has no secret key with fingerprint/);
    const err = await checkSigningKey({ fingerprint: otherKey, homedir: home }, "x").catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(AtomisoError);
    expect((err as AtomisoError).code).toBe("config-invalid");
  });

  it("signs SHA256SUMS; gpg verifies it with the release key only", async () => {
    const r = await writeSumsAndSignature(iso, { fingerprint: key, homedir: home });
    expect(r.signature).toBe(join(out, "SHA256SUMS.asc"));
    expect(await readFile(join(out, "SHA256SUMS.asc"), "utf8")).toMatch(
      /^-----BEGIN PGP SIGNATURE-----/,
    );
    const sums = join(out, "SHA256SUMS");
    const asc = `${sums}.asc`;
    const good = await run(gpgVerifyArgv(asc, sums, { homedir: home }));
    expect(validSignatureFingerprint(good.stdout)).toBe(key);
    // The other keyring has only its own key: the release signature cannot be verified there.
    const unknown = await run(gpgVerifyArgv(asc, sums, { homedir: other }), { okExitCodes: [2] });
    expect(validSignatureFingerprint(unknown.stdout)).toBeUndefined();
    expect(unknown.stdout).toContain("NO_PUBKEY");
    // A changed SHA256SUMS no longer matches its signature.
    const original = await readFile(sums, "utf8");
    await writeFile(
      sums,
      original.replace(/^[0-9a-f]/, (c) => (c === "0" ? "1" : "0")),
    );
    const bad = await run(gpgVerifyArgv(asc, sums, { homedir: home }), { okExitCodes: [1] });
    expect(bad.stdout).toContain("BADSIG");
    expect(validSignatureFingerprint(bad.stdout)).toBeUndefined();
    await writeFile(sums, original);
  });

  it("an unsigned release removes the signature that no longer matches", async () => {
    await writeSumsAndSignature(iso, undefined);
    await expect(readFile(join(out, "SHA256SUMS.asc"))).rejects.toThrow(/ENOENT/);
  });
});
