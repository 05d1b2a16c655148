// Layer compression from the image pipeline to the installer, with the real tools: a small
// image imported into podman is pushed by `atomiso push` (pushImage) to Debian's
// docker-registry with gzip layers (podman push, the default) and with zstd layers (podman
// push into a fresh OCI layout, then skopeo copy: podman 4.3 would reuse the gzip blobs the
// registry already has), its digest checked three ways and pinned, copied into an OCI
// layout the way the ISO's payload stage does, checked by the installer's verify-payload and
// unpacked by its unpack-layer. Both must give the same tree; a damaged blob is refused by
// its digest whatever its compression.
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import {
  chmod,
  cp,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  symlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { skopeoCopyToLayoutArgv } from "../../src/image/podman.js";
import { pushImage } from "../../src/image/push.js";
import type { ImageSettings } from "../../src/image/settings.js";
import { silentReporter } from "../../src/log/reporter.js";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { run } from "../../src/tools/exec.js";
import { startRegistry, stopRegistry, type TestRegistry } from "../support/registry.js";

const repo = join(import.meta.dirname, "../..");
const scripts = join(repo, "installer-scripts/deploy");
const IMAGE = `localhost/atomiso-test/compression:${process.pid}`;
const ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
const GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";

interface Manifest {
  layers: { mediaType: string; digest: string; size: number }[];
}

let work: string;
let registry: TestRegistry;
const access = { tlsVerify: false };

async function manifestOf(reference: string): Promise<Manifest> {
  const { stdout } = await run([
    "skopeo",
    "inspect",
    "--raw",
    "--tls-verify=false",
    `docker://${reference}`,
  ]);
  return JSON.parse(stdout) as Manifest;
}

/** `atomiso push` of IMAGE with `compression`; returns the pinned digest from the lock. */
async function push(compression: "gzip" | "zstd", reference: string): Promise<string> {
  const settings: ImageSettings = {
    containerfile: join(work, "Containerfile"),
    context: work,
    tag: IMAGE,
    buildArgs: {},
    reference,
    tlsVerify: false,
    maxSizeBytes: 1024 * 1024 * 1024,
    compression,
    lockFile: join(work, `atomiso-${compression}.lock`),
  };
  const { lock } = await pushImage(settings, { reporter: silentReporter, backend: "ostree" });
  return lock.digest;
}

/** The payload: the pinned image copied from the registry into an OCI layout, as payload.ts does. */
async function payload(name: string, pinned: string): Promise<string> {
  const dir = join(work, `payload-${name}`);
  await run(skopeoCopyToLayoutArgv(pinned, dir, "payload", access));
  return dir;
}

/** verify-payload's layer lines: [media type, blob path]. */
async function verified(layout: string, digest: string): Promise<[string, string][]> {
  const { stdout } = await run([join(scripts, "verify-payload"), layout, digest]);
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("layer\t"))
    .map((l) => {
      const [, type, path] = l.split("\t");
      return [type ?? "", path ?? ""];
    });
}

/** Every entry of a tree: path, type, mode, owner, size, link target, content hash. */
async function describeTree(tree: string): Promise<string[]> {
  const { stdout } = await run([
    "find",
    tree,
    "-mindepth",
    "1",
    "-printf",
    "%P %y %m %U:%G %s %l\\n",
  ]);
  const lines = stdout.split("\n").filter(Boolean).sort();
  const out: string[] = [];
  for (const line of lines) {
    const [path, type] = line.split(" ");
    const hash =
      type === "f" && path
        ? createHash("sha256")
            .update(await readFile(join(tree, path)))
            .digest("hex")
        : "";
    out.push(`${line} ${hash}`);
  }
  return out;
}

const unpack = (tree: string, type: string, blob: string) =>
  run([join(scripts, "unpack-layer"), tree, type, blob], { okExitCodes: [0, 2] });

beforeAll(async () => {
  work = await mkdtemp("/var/tmp/atomiso-layer-compression-");
  registry = await startRegistry(work, "registry");
  const stage = join(work, "stage");
  await mkdir(join(stage, "usr/lib/modules"), { recursive: true });
  await mkdir(join(stage, "etc"));
  await writeFile(join(stage, "usr/lib/os-release"), "ID=tiny\n".repeat(500));
  // Incompressible bytes too, so both compressors do real work.
  await writeFile(join(stage, "usr/lib/modules/blob"), randomBytes(300_000));
  await writeFile(join(stage, "etc/secret"), "0600");
  await chmod(join(stage, "etc/secret"), 0o600);
  await symlink("usr/lib", join(stage, "lib"));
  await symlink("/run", join(stage, "usr/lib/run-link"));
  const tar = join(work, "stage.tar");
  await run(["tar", "--numeric-owner", "-cf", tar, "-C", stage, "."]);
  await run(["podman", "import", "--quiet", tar, IMAGE]);
}, 120_000);

afterAll(async () => {
  await run(["podman", "image", "rm", "--force", IMAGE], { okExitCodes: [0, 1, 2] });
  if (registry) await stopRegistry(registry);
  if (work) await safeRemove(work);
});

describe("layer compression from push to install", () => {
  let gzipDigest: string;
  let zstdDigest: string;

  it("pushes gzip layers by default, and zstd layers although the registry has the gzip ones", async () => {
    gzipDigest = await push("gzip", `${registry.host}/tiny/system:gzip`);
    zstdDigest = await push("zstd", `${registry.host}/tiny/system:zstd`);
    const gz = await manifestOf(`${registry.host}/tiny/system@${gzipDigest}`);
    const zs = await manifestOf(`${registry.host}/tiny/system@${zstdDigest}`);
    expect(gz.layers.map((l) => l.mediaType)).toEqual([GZIP]);
    expect(zs.layers.map((l) => l.mediaType)).toEqual([ZSTD]);
    expect(zs.layers[0]?.digest).not.toBe(gz.layers[0]?.digest);
  }, 120_000);

  it("installs both: verify-payload accepts them and unpack-layer makes the same tree", async () => {
    const trees: string[][] = [];
    for (const [name, digest, type] of [
      ["gzip", gzipDigest, GZIP],
      ["zstd", zstdDigest, ZSTD],
    ] as const) {
      const layout = await payload(name, `${registry.host}/tiny/system@${digest}`);
      const layers = await verified(layout, digest);
      expect(layers.map(([t]) => t)).toEqual([type]);
      const tree = join(work, `tree-${name}`);
      await mkdir(tree);
      for (const [t, blob] of layers) {
        const r = await unpack(tree, t, blob);
        expect(r.stderr).toBe("");
        expect(r.exitCode).toBe(0);
        // The empty tree gets the one-pass extraction.
        expect(r.stdout).toMatch(/extracted into an empty tree/);
      }
      trees.push(await describeTree(tree));
    }
    expect(trees[0]).toContain(
      `etc/secret f 600 0:0 4  ${createHash("sha256").update("0600").digest("hex")}`,
    );
    expect(trees[0]).toContain("usr/lib/run-link l 777 0:0 4 /run ");
    expect(trees[0]).toContain("lib l 777 0:0 7 usr/lib ");
    expect(trees[1]).toEqual(trees[0]);
  }, 120_000);

  it("applies a zstd layer over a lower one: whiteouts and replacements as with gzip", async () => {
    const tree = join(work, "tree-zstd");
    const upper = join(work, "upper");
    await mkdir(join(upper, "usr/lib"), { recursive: true });
    await writeFile(join(upper, "usr/lib/.wh.os-release"), "");
    await mkdir(join(upper, "etc/secret"), { recursive: true });
    await writeFile(join(upper, "etc/secret/now-a-dir"), "d");
    const tar = join(work, "upper.tar");
    await run(["tar", "--numeric-owner", "-cf", tar, "-C", upper, "usr", "etc"]);
    await run(["zstd", "-q", "-f", tar, "-o", `${tar}.zst`]);
    const r = await unpack(tree, ZSTD, `${tar}.zst`);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/1 whiteout\(s\), 0 opaque dir\(s\), 1 replaced/);
    expect((await readdir(join(tree, "usr/lib"))).sort()).toEqual(["modules", "run-link"]);
    expect(await readdir(join(tree, "etc/secret"))).toEqual(["now-a-dir"]);
  });

  it("refuses a zstd blob that does not match its digest, before anything is unpacked", async () => {
    const layout = join(work, "payload-damaged");
    await cp(join(work, "payload-zstd"), layout, { recursive: true });
    const [[, blob] = ["", ""]] = await verified(layout, zstdDigest);
    // Same size, one byte changed in the middle.
    const fh = await open(blob, "r+");
    const { size } = await fh.stat();
    const byte = Buffer.alloc(1);
    await fh.read(byte, 0, 1, Math.floor(size / 2));
    byte[0] = (byte[0] ?? 0) ^ 0xff;
    await fh.write(byte, 0, 1, Math.floor(size / 2));
    await fh.close();
    const r = await run([join(scripts, "verify-payload"), layout, zstdDigest], {
      okExitCodes: [2],
    });
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /^atomiso-error: layer 0 sha256:[0-9a-f]{64} does not match its content/m,
    );
  });

  it("refuses a first layer with a '..' entry and writes nothing outside the tree", async () => {
    const tree = join(work, "tree-dotdot");
    await mkdir(tree);
    const source = join(work, "dotdot");
    await mkdir(source);
    await writeFile(join(source, "escaped"), "x");
    const tar = join(work, "dotdot.tar");
    // tree/a/../../escaped is work/escaped.
    await run(["tar", "-cf", tar, "-C", source, "--transform", "s,^,a/../../,", "escaped"]);
    await run(["zstd", "-q", "-f", tar, "-o", `${tar}.zst`]);
    const r = await unpack(tree, ZSTD, `${tar}.zst`);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/Member name contains '\.\.'/);
    expect(r.stderr).toMatch(/^atomiso-error: unpack-layer: extracting .* failed/m);
    expect(await readdir(tree)).toEqual([]);
    expect(existsSync(join(work, "escaped"))).toBe(false);
  });
});
