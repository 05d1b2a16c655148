// The system image pipeline for real: the example image (mmdebstrap base root, podman build),
// its lint, three deliberately broken variants, and pushes to local registries (open and
// htpasswd-protected) that pin the digest in atomiso.lock. The base root and podman's layers
// are cached across runs (keyed by content), so a warm run spends its time on the pushes.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "smol-toml";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";
import { loadConfig } from "../../src/config/load.js";
import { type BuiltImage, buildImage } from "../../src/image/build.js";
import { withMountedImage } from "../../src/image/inspect.js";
import { lintImage } from "../../src/image/lint-image.js";
import { readLock } from "../../src/image/lock.js";
import { pushImage } from "../../src/image/push.js";
import { type ImageSettings, imageSettings } from "../../src/image/settings.js";
import { createReporter } from "../../src/log/reporter.js";
import { RegistryClient } from "../../src/oci/registry.js";
import { defaultCacheDir } from "../../src/paths.js";
import { CommandError, run } from "../../src/tools/exec.js";
import {
  startRegistry,
  stopRegistry,
  type TestRegistry,
  writeHtpasswd,
} from "../support/registry.js";

const repo = join(import.meta.dirname, "../..");
const example = join(repo, "examples/particleos/atomiso.toml");
const TAG = "localhost/atomiso-test/particleos:pipeline";
const USER = "atomiso";
const PASS = "correct-horse";
const MIB = 1024 * 1024;

let work: string;
let open: TestRegistry;
let secured: TestRegistry;
let settings: ImageSettings;
let built: BuiltImage;
const extraImages: string[] = [];
const log: string[] = [];
const reporter = createReporter({ kind: "plain", write: (t) => log.push(t) });

/** A profile like the example (same base root, so its cache is shared) with its own tag/registry. */
async function writeProfile(dir: string, registry: string, repoPath: string): Promise<string> {
  const raw = parse(await readFile(example, "utf8")) as Record<string, Record<string, unknown>>;
  const image = raw.image as Record<string, unknown>;
  image.containerfile = join(repo, "oci/particleos/Containerfile");
  image.context = join(repo, "oci/particleos");
  image.tag = TAG;
  image.reference = `${registry}/${repoPath}:0.1.0`;
  image.tls_verify = false;
  raw.branding = { ...raw.branding, folder: join(repo, "examples/particleos/branding") };
  // The profile lives in a temp folder: allow the example's files where they are.
  raw.files = { extra_roots: [join(repo, "oci/particleos"), join(repo, "examples/particleos")] };
  await mkdir(dir, { recursive: true });
  const file = join(dir, "atomiso.toml");
  await writeFile(file, stringify(raw));
  return file;
}

/** Runs the CLI in-process; returns exit status, stdout and stderr. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const logSpy = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => {
    out.push(a.join(" "));
  });
  const errSpy = vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => {
    err.push(a.join(" "));
  });
  const writeSpy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: unknown) => {
    err.push(String(chunk));
    return true;
  });
  try {
    const code = await main(["node", "atomiso", "--log", "plain", ...args]);
    return { code, out: out.join("\n"), err: err.join("") };
  } finally {
    logSpy.mockRestore();
    errSpy.mockRestore();
    writeSpy.mockRestore();
  }
}

async function skopeoDigest(ref: string, authFile?: string): Promise<string> {
  const { stdout } = await run([
    "skopeo",
    "inspect",
    "--tls-verify=false",
    ...(authFile ? ["--authfile", authFile] : []),
    "--format",
    "{{.Digest}}",
    `docker://${ref}`,
  ]);
  return stdout.trim();
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "atomiso-image-pipeline-"));
  const htpasswd = join(work, "htpasswd");
  await writeHtpasswd(htpasswd, USER, PASS);
  open = await startRegistry(work, "open");
  secured = await startRegistry(work, "secured", htpasswd);
  settings = imageSettings(
    await loadConfig(await writeProfile(join(work, "profile"), open.host, "particleos/system")),
  );
  built = await buildImage(settings, { cacheDir: defaultCacheDir(), reporter });
  console.info(
    `image build: ${(built.durationMs / 1000).toFixed(1)}s (base root ${built.base?.cached ? "cached" : "built"}), ${Math.round(built.size / MIB)} MiB`,
  );
});

afterAll(async () => {
  await Promise.all([open, secured].filter(Boolean).map(stopRegistry));
  if (extraImages.length > 0) {
    await run(["podman", "image", "rm", "--force", ...extraImages], { okExitCodes: [0, 1, 2] });
  }
  if (work) await rm(work, { recursive: true, force: true });
});

describe("building the example image", () => {
  it("builds it from a cached base root, streaming podman's steps", () => {
    expect(built.tag).toBe(TAG);
    expect(built.id).toMatch(/^[0-9a-f]{64}$/);
    expect(built.base?.image).toMatch(/^localhost\/atomiso\/base:[0-9a-f]{16}$/);
    expect(built.size).toBeGreaterThan(200 * MIB);
    expect(built.size).toBeLessThan(settings.maxSizeBytes);
    expect(log.join("")).toMatch(/… \d+% step \d\/\d: RUN/);
  });

  it("rebuilds in seconds when nothing changed", async () => {
    const again = await buildImage(settings, { cacheDir: defaultCacheDir(), reporter });
    console.info(`warm image build: ${(again.durationMs / 1000).toFixed(1)}s`);
    expect(again.id).toBe(built.id);
    expect(again.base?.cached).toBe(true);
    expect(again.durationMs).toBeLessThan(30_000);
  });

  it("lays the tree out for ostree (checked from inside the image too)", async () => {
    const facts = await withMountedImage(TAG, async (root) => ({
      hosts: await readFile(join(root, "etc/hosts"), "utf8"),
      resolv: await readFile(join(root, "etc/resolv.conf"), "utf8").catch(() => ""),
      grub: await readFile(join(root, "etc/default/grub"), "utf8"),
    }));
    expect(facts.hosts).toContain("127.0.0.1\tlocalhost");
    // The build host's DNS servers are not baked in.
    expect(facts.resolv.trim()).toBe("");
    expect(facts.grub).toContain("GRUB_DISTRIBUTOR=");
    const { stdout } = await run([
      "podman",
      "run",
      "--rm",
      "--network=none",
      TAG,
      "sh",
      "-c",
      "lsinitrd /usr/lib/modules/*/initramfs.img",
    ]);
    expect(stdout).toContain("usr/lib/ostree/ostree-prepare-root");
    expect(stdout).toContain("usr/lib/ostree/prepare-root.conf");
  });
});

describe("linting", () => {
  it("passes the example image with the ostree backend", async () => {
    const started = Date.now();
    const result = await lintImage(TAG, {
      maxSizeBytes: settings.maxSizeBytes,
      tlsVerify: false,
      reporter,
    });
    console.info(`lint: ${Date.now() - started} ms`);
    expect(result.report.findings).toEqual([]);
    expect(result.report).toMatchObject({ ok: true, backend: "ostree" });
    expect(result.report.kernel).toMatch(/^\d+\.\d+\.\d+.*-amd64$/);
    // systemd-cryptsetup is in the image: its initramfs can unlock a LUKS root.
    expect(result.report.luks).toBe(true);
    expect(result.image?.labels["dev.atomiso.backend"]).toBe("ostree");

    const { code, out } = await cli(["image", "lint", TAG]);
    expect(code).toBe(0);
    expect(out).toMatch(
      /installable with the ostree backend \(kernel 6\.\d+.*-amd64, \d+ MiB unpacked, LUKS root can be unlocked; 0 error\(s\), 0 warning\(s\)\)/,
    );
  });

  it("lints an OCI layout (what skopeo copy writes) the same way", async () => {
    const layout = join(work, "layout");
    await run(["skopeo", "copy", "--quiet", `containers-storage:${TAG}`, `oci:${layout}:x`]);
    const result = await lintImage(`oci:${layout}:x`, {
      maxSizeBytes: settings.maxSizeBytes,
      tlsVerify: false,
      reporter,
    });
    expect(result.image?.id).toBe(built.id);
    // The temporary name is gone again; the image itself stays.
    const { stdout } = await run(["podman", "images", "--format", "{{.Repository}}"]);
    expect(stdout).not.toContain("atomiso-lint");
    expect(result.report).toMatchObject({ ok: true, backend: "ostree" });
  });

  const variants: Array<[string, string, RegExp[]]> = [
    [
      "kernel-in-boot",
      'RUN set -eu; k=$(ls /usr/lib/modules); mv "/usr/lib/modules/$k/vmlinuz" "/boot/vmlinuz-$k"',
      [
        /^error: kernel: the kernel is in \/boot \(vmlinuz-6\./m,
        /^error: boot-empty: \/boot is not empty/m,
      ],
    ],
    [
      "no-initramfs",
      "RUN rm /usr/lib/modules/*/initramfs.img",
      [/^error: initramfs: no initramfs at \/usr\/lib\/modules\/6\.[^ ]+\/initramfs\.img/m],
    ],
    [
      "no-ostree",
      "RUN rm /usr/bin/ostree",
      [/^error: ostree: ostree is not installed \(\/usr\/bin\/ostree missing\)/m],
    ],
  ];

  it.each(variants)(
    "fails the %s variant with the right message",
    async (name, instruction, expected) => {
      const context = join(work, `broken-${name}`);
      await mkdir(context, { recursive: true });
      await writeFile(join(context, "Containerfile"), `FROM ${TAG}\n${instruction}\n`);
      const tag = `localhost/atomiso-test/broken:${name}`;
      extraImages.push(tag);
      await buildImage(
        { ...settings, containerfile: join(context, "Containerfile"), context, tag, buildArgs: {} },
        { cacheDir: defaultCacheDir(), reporter },
      );
      const { code, out, err } = await cli(["image", "lint", tag]);
      expect(code).toBe(1);
      for (const re of expected) expect(out).toMatch(re);
      expect(out.split("\n").filter((l) => l.startsWith("error:"))).toHaveLength(expected.length);
      expect(err).toMatch(/NOT installable \(\d error\(s\)/);
    },
  );
});

describe("pushing and pinning", () => {
  it("pushes, verifies the digest three ways and writes atomiso.lock", async () => {
    const result = await pushImage(settings, { reporter, backend: "ostree", kernel: "k" });
    console.info(
      `push: ${(result.durationMs / 1000).toFixed(1)}s, ${Math.round(result.lock.size / MIB)} MiB in the registry`,
    );
    const ours = await new RegistryClient({
      tlsVerify: false,
      authFile: join(work, "none.json"),
    }).resolveDigest(settings.reference);
    expect(ours).toBe(await skopeoDigest(settings.reference));
    expect(result.lock.digest).toBe(ours);
    expect(result.lock.pinned).toBe(`${open.host}/particleos/system@${ours}`);
    expect(await skopeoDigest(result.lock.pinned)).toBe(ours);

    const lock = await readLock(settings.lockFile, { expectReference: settings.reference });
    expect(lock).toEqual(result.lock);
    expect(lock).toMatchObject({ backend: "ostree", tlsVerify: false, version: "0.1.0" });
    expect(lock.configDigest).toBe(`sha256:${built.id}`);
    // podman's size also counts stored manifests, which the layout round trip above adds to.
    expect(Math.abs(lock.unpackedSize - built.size)).toBeLessThan(MIB);
    expect(lock.size).toBeGreaterThan(50 * MIB);
    expect(lock.size).toBeLessThan(built.size);
  });

  it("pushes through the CLI to a registry with Basic auth, using an auth file", async () => {
    const profile = await writeProfile(
      join(work, "secured-profile"),
      secured.host,
      "particleos/secure",
    );
    const noCredentials = join(work, "empty-auth.json");
    await writeFile(noCredentials, JSON.stringify({ auths: {} }));
    const denied = await cli(["--config", profile, "push", "--authfile", noCredentials]);
    expect(denied.code).toBe(1);
    expect(denied.err).toMatch(
      // gzip layers go with podman push, zstd ones (the example's) with skopeo copy.
      /command failed \(exit status \d+\): (podman push --tls-verify=false|skopeo copy .*--dest-tls-verify=false)/,
    );
    expect(denied.err).toMatch(/authentication required|unauthorized/i);
    await expect(readLock(join(work, "secured-profile", "atomiso.lock"))).rejects.toThrowError(
      /run `atomiso push`|no image lock/,
    );

    const authFile = join(work, "auth.json");
    await writeFile(
      authFile,
      JSON.stringify({
        auths: { [secured.host]: { auth: Buffer.from(`${USER}:${PASS}`).toString("base64") } },
      }),
    );
    const ok = await cli(["--config", profile, "push", "--authfile", authFile]);
    expect(ok.err).not.toMatch(/failed/);
    expect(ok.code).toBe(0);
    const lock = await readLock(join(work, "secured-profile", "atomiso.lock"));
    expect(ok.out).toContain(lock.pinned);
    expect(ok.out).toContain("pinned in");
    expect(lock.digest).toBe(await skopeoDigest(lock.reference, authFile));
    expect(lock.kernel).toMatch(/^6\./);
    expect(lock.luks).toBe(true);
  });

  it("refuses to push an image that fails the lint", async () => {
    const profile = await writeProfile(
      join(work, "broken-profile"),
      open.host,
      "particleos/broken",
    );
    const text = (await readFile(profile, "utf8")).replace(
      TAG,
      "localhost/atomiso-test/broken:no-ostree",
    );
    await writeFile(profile, text);
    const result = await cli(["--config", profile, "push"]);
    expect(result.code).toBe(1);
    expect(result.err).toContain("refusing to push an image that cannot be installed");
    const err = await run([
      "skopeo",
      "inspect",
      "--tls-verify=false",
      `docker://${open.host}/particleos/broken:0.1.0`,
    ]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
  });
});
