// Image signatures end to end with the real tools: gpg keys made in a throwaway GNUPGHOME, a
// tiny image pushed to Debian's docker-registry on 127.0.0.1, signed by atomiso's signer
// (skopeo standalone-sign, read back by standalone-verify) from the manifest the registry
// serves, then checked by the installers' own scripts: check-payload (Calamares' first step,
// through verify-payload --signed-by) for an embedded payload, fetch-payload check for an
// online install (signatures from a lookaside server on 127.0.0.1). A good signature passes;
// a missing one, one by another key, one of another image, an altered one and a tampered blob
// are each refused with exit status 1 and "nothing was written" before any disk is touched.

import { copyFile, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, normalize } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readLock } from "../../src/image/lock.js";
import { pushImage } from "../../src/image/push.js";
import { signManifest } from "../../src/image/sign-image.js";
import {
  LAYOUT_SIGNATURES_DIR,
  renderPolicy,
  renderRegistriesD,
  renderSigningFiles,
  SIGNING_DIR,
  standaloneSignArgv,
} from "../../src/image/signing.js";
import { silentReporter } from "../../src/log/reporter.js";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { RegistryClient } from "../../src/oci/registry.js";
import { writeTree } from "../../src/render/file-tree.js";
import { PAYLOAD_DIR, type PayloadSigning, payloadStage } from "../../src/stages/payload.js";
import { type RunResult, run } from "../../src/tools/exec.js";
import { pushLayout, startRegistry, stopRegistry, type TestRegistry } from "../support/registry.js";
import { makeTinyLayout } from "../support/tiny-layout.js";

const repo = join(import.meta.dirname, "../..");
const SCRIPTS = join(repo, "installer-scripts/deploy");
const CHECK = join(repo, "installer-scripts/live/check-payload");
const NAME = "atomiso/signed-test";

let work: string;
let gnupg: string;
let registry: TestRegistry;
let lookaside: Server;
let lookasideUrl: string;
let layout: string;
let digest: string;
let reference: string;
let trusted: string;
let other: string;
let signingDir: string;
/** The signature atomiso's signer made, in the lookaside folder beside a lock. */
let signature: string;
let signatureSha256: string;
let publicKeyFile: string;

async function newKey(name: string): Promise<string> {
  await run(
    [
      "gpg",
      "--batch",
      "--passphrase",
      "",
      "--quick-gen-key",
      `${name} <${name}@example.org>`,
    ].concat(["ed25519", "sign", "never"]),
    { env: { GNUPGHOME: gnupg } },
  );
  const { stdout } = await run(["gpg", "--list-keys", "--with-colons", `${name}@example.org`], {
    env: { GNUPGHOME: gnupg },
  });
  const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(stdout)?.[1];
  if (!fpr) throw new Error(`no fingerprint for ${name}`);
  return fpr;
}

/** A copy of the layout with the given signature files (none: unsigned). */
async function layoutWith(name: string, signatures: (string | Buffer)[]): Promise<string> {
  const dir = join(work, name);
  await run(["cp", "-a", "--", layout, dir]);
  if (signatures.length) await mkdir(join(dir, LAYOUT_SIGNATURES_DIR));
  for (const [i, s] of signatures.entries()) {
    const target = join(dir, LAYOUT_SIGNATURES_DIR, `signature-${i + 1}`);
    if (typeof s === "string") await copyFile(s, target);
    else await writeFile(target, s);
  }
  return dir;
}

function plan(o: { layout?: string; online?: boolean }) {
  return {
    version: 1,
    product: { name: "ParticleOS", id: "particleos", version: "0.1.0" },
    backend: "ostree",
    image: {
      reference,
      digest,
      pinned: `${registry.host}/${NAME}@${digest}`,
      size: 1,
      unpackedSize: 1,
    },
    payload: o.online
      ? { mode: "online", source: `${registry.host}/${NAME}@${digest}`, tlsVerify: false }
      : { mode: "embedded", layout: o.layout ?? layout },
    ostree: { stateroot: "particleos", ref: "atomiso/particleos" },
    kargs: ["console=ttyS0,115200"],
    layout: {
      table: "gpt",
      biosBootMiB: 1,
      efiMiB: 100,
      bootMiB: 256,
      rootMinGiB: 1,
      filesystem: "ext4",
      filesystems: ["ext4"],
      encryption: false,
    },
    users: { groups: ["users"], sudoGroup: "sudo", shell: "/bin/bash" },
    requirements: { storageGiB: 2, ramGiB: 1 },
    scripts: SCRIPTS,
  };
}

async function check(p: Record<string, unknown>): Promise<RunResult> {
  const file = join(work, `plan-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify(p));
  return run([CHECK, file], {
    okExitCodes: [0, 1],
    env: {
      PYTHONPATH: join(repo, "installer-scripts"),
      ATOMISO_SIGNING_DIR: signingDir,
      REGISTRY_AUTH_FILE: join(work, "auth.json"),
    },
    timeoutMs: 120_000,
  });
}

/** Signs `manifestDigest`'s manifest bytes as `identity` with `key` (skopeo, our argv). */
async function signAs(key: string, manifest: string, identity: string, out: string) {
  await run(standaloneSignArgv(manifest, identity, key, out), { env: { GNUPGHOME: gnupg } });
}

beforeAll(async () => {
  work = await mkdtemp("/var/tmp/atomiso-image-signing-");
  gnupg = join(work, "gnupg");
  await mkdir(gnupg, { mode: 0o700 });
  trusted = await newKey("publisher");
  other = await newKey("stranger");
  layout = join(work, "layout");
  digest = await makeTinyLayout(layout, work);
  registry = await startRegistry(work, "signed");
  await pushLayout(layout, registry, `${NAME}:0.1.0`);
  reference = `${registry.host}/${NAME}:0.1.0`;

  // atomiso's signer, on the manifest as the registry serves it (push.ts does the same).
  const manifest = await new RegistryClient({ tlsVerify: false }).getManifest(
    `${registry.host}/${NAME}@${digest}`,
  );
  const lockDir = join(work, "profile");
  const signed = await signManifest({
    reference,
    digest,
    manifest: manifest.bytes,
    fingerprint: trusted,
    lockDir,
    gnupgHome: gnupg,
  });
  expect(signed.key).toBe(trusted);
  signature = join(lockDir, signed.file);
  signatureSha256 = signed.sha256;

  // What the live system carries: the key (armored, as a profile gives it) and the policy files.
  const { stdout: publicKey } = await run(["gpg", "--export", "--armor", trusted], {
    env: { GNUPGHOME: gnupg },
  });
  publicKeyFile = join(work, "signing-key.asc");
  await writeFile(publicKeyFile, publicKey);
  // The lookaside server: the signatures/ folder beside the lock, as a publisher serves it.
  lookaside = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? "/").split("?")[0] ?? "/"));
    readFile(join(lockDir, "signatures", path))
      .then((data) => res.end(data))
      .catch(() => {
        res.statusCode = 404;
        res.end();
      });
  });
  await new Promise<void>((resolve) => lookaside.listen(0, "127.0.0.1", resolve));
  lookasideUrl = `http://127.0.0.1:${(lookaside.address() as AddressInfo).port}`;
  const root = join(work, "live-root");
  await writeTree(
    root,
    renderSigningFiles({
      fingerprint: trusted,
      publicKey: Buffer.from(publicKey),
      reference,
      lookaside: lookasideUrl,
    }),
  );
  signingDir = join(root, SIGNING_DIR);
}, 180_000);

afterAll(async () => {
  if (lookaside) await new Promise((resolve) => lookaside.close(resolve));
  if (registry) await stopRegistry(registry);
  if (work) await safeRemove(work);
});

describe("embedded payload: check-payload with a signing key", () => {
  it("passes a payload signed by the publisher", async () => {
    const r = await check(plan({ layout: await layoutWith("good", [signature]) }));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`system image ${digest} verified, signature verified`);
  });

  it("refuses a payload without a signature", async () => {
    const r = await check(plan({ layout: await layoutWith("unsigned", []) }));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `atomiso-error: the system image ${digest} is not signed \\(no signature in .*\\), but this installer accepts only images signed by the key ${trusted}`,
      ),
    );
    expect(r.stderr).toMatch(/so nothing was written to any disk/);
  });

  it("refuses a signature by another key", async () => {
    const sig = join(work, "other-key.sig");
    await signAs(other, join(layout, "blobs/sha256", digest.slice(7)), reference, sig);
    const r = await check(plan({ layout: await layoutWith("other-key", [sig]) }));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `not signed by the key this installer trusts \\(${trusted}\\): signature-1 is by the key [0-9A-F]+, not by ${trusted}`,
      ),
    );
    expect(r.stderr).toMatch(/so nothing was written to any disk/);
  });

  it("refuses the publisher's signature of another image", async () => {
    const otherManifest = join(work, "other-manifest.json");
    await writeFile(otherManifest, '{"schemaVersion":2,"layers":[]}');
    const sig = join(work, "other-image.sig");
    await signAs(trusted, otherManifest, reference, sig);
    const r = await check(plan({ layout: await layoutWith("other-image", [sig]) }));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/signature-1 signs the image sha256:[0-9a-f]{64}, not this image/);
  });

  it("refuses an altered signature", async () => {
    const bytes = await readFile(signature);
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0x01;
    const r = await check(plan({ layout: await layoutWith("altered", [bytes]) }));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      /not signed by the key this installer trusts .*signature-1 (does not match|is not a valid)/,
    );
  });

  it("refuses a tampered blob even with a good signature", async () => {
    const bad = await layoutWith("tampered", [signature]);
    const manifest = JSON.parse(await readFile(join(bad, "blobs/sha256", digest.slice(7)), "utf8"));
    const blob = join(bad, "blobs/sha256", manifest.layers[0].digest.slice(7));
    const data = await readFile(blob);
    data[600] = (data[600] ?? 0) ^ 0xff;
    await writeFile(blob, data);
    const r = await check(plan({ layout: bad }));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/layer 0 sha256:[0-9a-f]{64} does not match its content/);
    expect(r.stderr).toMatch(/so nothing was written to any disk/);
  });

  it("still installs unsigned images when the ISO has no signing key", async () => {
    const file = join(work, "plain-plan.json");
    await writeFile(file, JSON.stringify(plan({ layout: await layoutWith("plain", []) })));
    const r = await run([CHECK, file], {
      env: {
        PYTHONPATH: join(repo, "installer-scripts"),
        ATOMISO_SIGNING_DIR: join(work, "no-signing"),
      },
    });
    expect(r.stdout.trim()).toBe(`system image ${digest} verified`);
  });
});

describe("online payload: fetch-payload check with a signing key", () => {
  it("passes when the lookaside server has the publisher's signature", async () => {
    const r = await check(plan({ online: true }));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`registry serves the system image ${digest} (signature verified)`);
  });

  it("refuses when the signature server has none for the image", async () => {
    const file = join(signingDir, "lookaside");
    const saved = await readFile(file, "utf8");
    await writeFile(file, `${lookasideUrl}/nowhere\n`);
    try {
      const r = await check(plan({ online: true }));
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`the system image ${digest} is not signed`));
      expect(r.stderr).toMatch(/nothing was written to any disk/);
    } finally {
      await writeFile(file, saved);
    }
  });
});

// The policy the live system and installed systems get (atomiso-update's pulls), applied by
// skopeo itself: the rendered policy.json and registries.d, the key in the test's root.
describe("the rendered containers policy, applied by skopeo", () => {
  async function pull(name: string): Promise<RunResult> {
    const ref = `${registry.host}/${name}:0.1.0`;
    const conf = await mkdtemp(join(work, "policy-"));
    const policy = join(conf, "policy.json");
    await writeFile(
      policy,
      renderPolicy({ reference: ref, keyPath: join(signingDir, "public-key") }),
    );
    await mkdir(join(conf, "registries.d"));
    await writeFile(
      join(conf, "registries.d/atomiso.yaml"),
      renderRegistriesD({ reference: ref, lookaside: lookasideUrl }) ?? "",
    );
    return run(
      [
        "skopeo",
        "--policy",
        policy,
        "--registries.d",
        join(conf, "registries.d"),
        "copy",
        "--quiet",
        "--remove-signatures",
        "--src-tls-verify=false",
        `docker://${registry.host}/${name}@${digest}`,
        `oci:${join(conf, "pulled")}:x`,
      ],
      {
        okExitCodes: [0, 1],
        env: { REGISTRY_AUTH_FILE: join(work, "auth.json") },
        timeoutMs: 120_000,
      },
    );
  }

  it("pulls the signed image", async () => {
    const r = await pull(NAME);
    expect(r.exitCode, r.stderr).toBe(0);
  });

  it("refuses an image of a signed repository that has no signature", async () => {
    // The same blobs under another name: nothing at its lookaside path.
    await pushLayout(layout, registry, `${NAME}-unsigned:0.1.0`);
    const r = await pull(`${NAME}-unsigned`);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/signature/i);
  });
});

// The ISO build's side: the payload stage fetches the pinned image, puts the lock's signature
// into the layout and checks it with verify-payload before the ISO is made.
describe("the payload stage with a signed image", () => {
  async function stage(name: string, signing: PayloadSigning) {
    const outDir = join(work, `stage-${name}`);
    const tmpDir = join(work, `stage-${name}-tmp`);
    await mkdir(outDir);
    await mkdir(tmpDir);
    await payloadStage.run(
      { reporter: silentReporter, outDir, tmpDir, inputs: {}, aptCacheDir: tmpDir },
      {
        pinned: `${registry.host}/${NAME}@${digest}`,
        digest,
        tag: "0.1.0",
        access: { tlsVerify: false },
        signing,
      },
    );
    return join(outDir, PAYLOAD_DIR);
  }
  const signing = (): PayloadSigning => ({
    signatureFile: signature,
    sha256: signatureSha256,
    fingerprint: trusted,
    publicKey: publicKeyFile,
    reference,
  });

  it("carries the signature in the layout, where check-payload finds it", async () => {
    const dir = await stage("good", signing());
    expect(await readFile(join(dir, LAYOUT_SIGNATURES_DIR, "signature-1"))).toEqual(
      await readFile(signature),
    );
    const r = await check(plan({ layout: dir }));
    expect(r.exitCode, r.stderr).toBe(0);
  });

  it("refuses a signature file that is not the one atomiso.lock records", async () => {
    const err = await stage("wrong-sum", { ...signing(), sha256: "0".repeat(64) }).catch(
      (e: unknown) => e,
    );
    expect(String(err)).toMatch(/hashes to [0-9a-f]{64}, atomiso.lock says 0{64}/);
  });

  it("refuses an image signed by another key than image.signing's", async () => {
    const err = await stage("wrong-key", { ...signing(), fingerprint: other }).catch(
      (e: unknown) => e,
    );
    expect(String(err)).toMatch(/the installers would refuse this image|is by the key/);
  });
});

// `atomiso push` with [image.signing] on a small local image (podman import of a one-file tree).
describe("atomiso push with image.signing", () => {
  const TAG = "localhost/atomiso-test/signed-push:0.1.0";
  afterAll(async () => {
    await run(["podman", "rmi", "--force", TAG], { okExitCodes: [0, 1, 2, 125] });
  });

  it("signs the pushed manifest and records the key and the signature in atomiso.lock", async () => {
    await run(["podman", "import", "--quiet", join(work, "layer.tar"), TAG]);
    const profile = join(work, "push-profile");
    await mkdir(profile);
    const pushedRef = `${registry.host}/atomiso/pushed:0.1.0`;
    const result = await pushImage(
      {
        containerfile: join(profile, "Containerfile"),
        context: profile,
        tag: TAG,
        buildArgs: {},
        reference: pushedRef,
        tlsVerify: false,
        compression: "gzip",
        maxSizeBytes: 1 << 30,
        lockFile: join(profile, "atomiso.lock"),
        signing: { fingerprint: trusted, publicKey: publicKeyFile },
      },
      { reporter: silentReporter, backend: "ostree", gnupgHome: gnupg },
    );
    const lock = await readLock(join(profile, "atomiso.lock"));
    expect(lock.signature).toEqual(result.lock.signature);
    expect(lock.signature).toMatchObject({
      type: "simple-signing",
      key: trusted,
      file: `signatures/atomiso/pushed@sha256=${lock.digest.slice(7)}/signature-1`,
    });
    // The installers' check accepts it for exactly the pushed digest.
    const sigs = join(work, "pushed-signatures");
    await mkdir(sigs);
    await copyFile(join(profile, lock.signature?.file ?? ""), join(sigs, "signature-1"));
    const root = join(work, "pushed-root");
    await writeTree(
      root,
      renderSigningFiles({
        fingerprint: trusted,
        publicKey: await readFile(publicKeyFile),
        reference: pushedRef,
      }),
    );
    const r = await run([
      join(SCRIPTS, "verify-payload"),
      "--signatures",
      sigs,
      lock.digest,
      "--signed-by",
      join(root, SIGNING_DIR),
    ]);
    expect(r.stderr).toMatch(`signed by ${trusted} as ${pushedRef}`);
  }, 120_000);
});
