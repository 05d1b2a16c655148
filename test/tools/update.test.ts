// atomiso-update (installer-scripts/update/atomiso-update) for real: the example image built
// as 0.1.0 and 0.2.0 (only VERSION differs: os-release and the label), pushed with
// `atomiso push` to Debian's docker-registry on 127.0.0.1 (0.1.0 first moves the :stable
// channel), installed from the registry's 0.1.0 with the ostree backend onto an ext4 file
// system on a loop device, then updated from :stable through a small HTTP proxy this test
// controls (to make the registry unreachable, or lie about a manifest).
//
// Everything runs in a chroot of the 0.1.0 image's own tree (ostree, skopeo, GNU tar,
// perl-base: what the installed system has) inside a private mount namespace, like the
// ostree-deploy test; the sysroot is not booted, so the tool runs with --sysroot and the
// deployment at index 0 stands for "what boots next". Booting the result is the boot tier's job.
import { existsSync } from "node:fs";
import {
  chmod,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rename,
  writeFile,
} from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import { join } from "node:path";
import { parse, stringify } from "smol-toml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { buildImage } from "../../src/image/build.js";
import { type PushResult, pushImage } from "../../src/image/push.js";
import { type ImageSettings, imageSettings } from "../../src/image/settings.js";
import { silentReporter } from "../../src/log/reporter.js";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { RegistryClient } from "../../src/oci/registry.js";
import { defaultCacheDir } from "../../src/paths.js";
import { type RunResult, run } from "../../src/tools/exec.js";
import { inPrivateMountNamespace } from "../../src/tools/namespace.js";
import { startRegistry, stopRegistry, type TestRegistry } from "../support/registry.js";

const repo = join(import.meta.dirname, "../..");
const scripts = join(repo, "installer-scripts");
const example = join(repo, "examples/particleos/atomiso.toml");
const TAG = "localhost/atomiso-test/particleos-update";
/** The 0.1.0 image unpacked (the chroot the tool runs in), kept across runs by digest. */
const FIXTURES = "/var/tmp/atomiso-update-fixture";
const STATEROOT = "particleos";
const REPOSITORY = "particleos/system";
const TOOL = "/run/installer-scripts/update/atomiso-update";
const SYSROOT = "/run/target";
const GIB = 1024 * 1024 * 1024;

// Binds the tools root, the target (an ext4 file system), the payload, the repository's
// scripts and an output dir, and a registries.conf drop-in, then runs a command in a chroot.
// Run under unshare --mount --propagation private: the mounts go with the namespace.
const HARNESS = `#!/bin/bash
# usage: harness TOOLS_ROOT TARGET_DEV LAYOUT SCRIPTS OUT -- COMMAND...
set -euo pipefail
tools=$1 dev=$2 layout=$3 scripts=$4 out=$5
shift 5
[ "\${1:-}" = -- ] && shift
if [ "$(readlink /proc/self/ns/mnt)" = "$(readlink /proc/1/ns/mnt)" ]; then
  echo "harness: not in a private mount namespace" >&2
  exit 1
fi
mount --bind "$tools" "$tools"
mount -t tmpfs -o mode=0755 tmpfs "$tools/run"
mount -t tmpfs -o mode=1777 tmpfs "$tools/tmp"
mount -t tmpfs -o mode=1777 tmpfs "$tools/var/tmp"
mount -t tmpfs -o mode=0755 tmpfs "$tools/var/log"
mount -t tmpfs -o mode=0755 tmpfs "$tools/etc/containers/registries.conf.d"
cp "$out/registries.conf" "$tools/etc/containers/registries.conf.d/"
mkdir -p "$tools/run/target" "$tools/run/payload" "$tools/run/installer-scripts" "$tools/run/out"
mount "$dev" "$tools/run/target"
mount --bind -o ro "$layout" "$tools/run/payload"
mount --bind -o ro "$scripts" "$tools/run/installer-scripts"
mount --bind "$out" "$tools/run/out"
mount --rbind /dev "$tools/dev"
mount -t proc proc "$tools/proc"
mount --rbind /sys "$tools/sys"
chroot "$tools" "$@"
`;

interface Deployment {
  index: number;
  checksum: string;
  role: string;
  version: string;
  "image-reference": string;
  "manifest-digest": string;
}

/** A proxy in front of the registry: passes, is down, or serves a wrong manifest for one digest. */
class RegistryProxy {
  host = "";
  lieAbout: { digest: string; body: Buffer } | undefined;
  private server: Server | undefined;
  private port = 0;
  constructor(private readonly upstream: string) {}

  async start(): Promise<void> {
    const [uhost, uport] = this.upstream.split(":");
    this.server = createServer((req, res) => {
      const lie = this.lieAbout;
      if (lie && req.url === `/v2/${REPOSITORY}/manifests/${lie.digest}`) {
        res.writeHead(200, {
          "content-type": "application/vnd.oci.image.manifest.v1+json",
          "docker-content-digest": lie.digest,
          "content-length": lie.body.length,
        });
        res.end(req.method === "HEAD" ? undefined : lie.body);
        return;
      }
      const up = request(
        {
          host: uhost,
          port: Number(uport),
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on("error", () => res.destroy());
      req.pipe(up);
    });
    const server = this.server;
    await new Promise<void>((resolve) => server.listen(this.port, "127.0.0.1", resolve));
    this.port = (server.address() as { port: number }).port;
    this.host = `127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe("atomiso-update on an installed ostree system", () => {
  let work: string;
  let out: string;
  let harness: string;
  let registry: TestRegistry;
  let proxy: RegistryProxy;
  let s1: ImageSettings;
  let s2: ImageSettings;
  let push1: PushResult;
  let push2: PushResult;
  let toolsRoot: string;
  let layout1: string;
  let image: string;
  let loop = "";
  let tracked: string;
  let deployOut: RunResult;

  async function profile(version: string): Promise<ImageSettings> {
    const raw = parse(await readFile(example, "utf8")) as Record<string, Record<string, unknown>>;
    const img = raw.image as Record<string, unknown>;
    img.containerfile = join(repo, "oci/particleos/Containerfile");
    img.context = join(repo, "oci/particleos");
    img.tag = `${TAG}:${version}`;
    img.reference = `${registry.host}/${REPOSITORY}:${version}`;
    img.track = `${registry.host}/${REPOSITORY}:stable`;
    img.tls_verify = false;
    img.build_args = { VERSION: version };
    raw.branding = { ...raw.branding, folder: join(repo, "examples/particleos/branding") };
    // The copy names the example's files where they are: allowed explicitly.
    raw.files = { extra_roots: [join(repo, "oci/particleos"), join(repo, "examples/particleos")] };
    const dir = join(work, `profile-${version}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "atomiso.toml"), stringify(raw));
    return imageSettings(await loadConfig(join(dir, "atomiso.toml")));
  }

  /** The 0.1.0 image from the registry as an OCI layout, and unpacked as the tools root. */
  async function ensureFixture(digest: string): Promise<void> {
    await mkdir(FIXTURES, { recursive: true });
    const dir = join(FIXTURES, digest.slice(7, 19));
    toolsRoot = join(dir, "tools-root");
    layout1 = join(dir, "layout");
    if (existsSync(join(dir, "done"))) return;
    for (const name of await readdir(FIXTURES)) await safeRemove(join(FIXTURES, name));
    const tmp = join(FIXTURES, `.tmp-${process.pid}`);
    await mkdir(join(tmp, "tools-root"), { recursive: true });
    await run([
      "skopeo",
      "copy",
      "--quiet",
      "--preserve-digests",
      "--src-tls-verify=false",
      `docker://${registry.host}/${REPOSITORY}@${digest}`,
      `oci:${join(tmp, "layout")}:payload`,
    ]);
    const verify = join(scripts, "deploy/verify-payload");
    const { stdout } = await run([verify, join(tmp, "layout"), digest]);
    for (const line of stdout.split("\n")) {
      const [kind, mediaType, path] = line.split("\t");
      if (kind !== "layer" || !mediaType || !path) continue;
      await run([join(scripts, "deploy/unpack-layer"), join(tmp, "tools-root"), mediaType, path]);
    }
    await writeFile(join(tmp, "done"), `${digest}\n`);
    await rename(tmp, dir);
  }

  function inTarget(command: string[], ok: number[] = [0], onLine?: (l: string) => void) {
    return run(
      inPrivateMountNamespace([
        "bash",
        harness,
        toolsRoot,
        loop,
        layout1,
        scripts,
        out,
        "--",
        ...command,
      ]),
      { okExitCodes: ok, timeoutMs: 600_000, ...(onLine ? { onLine } : {}) },
    );
  }
  const update = (args: string[], onLine?: (l: string) => void) =>
    inTarget([TOOL, ...args, "--sysroot", SYSROOT], [0, 1], onLine);

  async function status(): Promise<Deployment[]> {
    const r = await update(["status", "--json"]);
    expect(r.exitCode, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { deployments: Deployment[] }).deployments;
  }

  /** What must not change when an update is refused: deployments and the boot entries. */
  async function bootState(): Promise<string> {
    const r = await inTarget([
      "bash",
      "-c",
      `ostree admin --sysroot=${SYSROOT} status; readlink ${SYSROOT}/boot/loader; ` +
        `cd ${SYSROOT}/boot/loader/entries && sha256sum *; ls ${SYSROOT}/ostree/deploy/${STATEROOT}/deploy`,
    ]);
    return r.stdout;
  }

  const digestOf = (ref: string) => new RegistryClient({ tlsVerify: false }).resolveDigest(ref);

  beforeAll(async () => {
    work = await mkdtemp("/var/tmp/atomiso-update-");
    out = join(work, "out");
    await mkdir(out);
    harness = join(work, "harness");
    await writeFile(harness, HARNESS);
    await chmod(harness, 0o755);
    registry = await startRegistry(work, "registry");
    proxy = new RegistryProxy(registry.host);
    await proxy.start();
    tracked = `${proxy.host}/${REPOSITORY}:stable`;
    // The registry is plain HTTP: the installed system learns that from registries.conf.
    await writeFile(
      join(out, "registries.conf"),
      `[[registry]]\nlocation = "${proxy.host}"\ninsecure = true\n`,
    );

    s1 = await profile("0.1.0");
    s2 = await profile("0.2.0");
    const cache = { cacheDir: defaultCacheDir(), reporter: silentReporter };
    await buildImage(s1, cache);
    await buildImage(s2, cache);
    const pushed = { reporter: silentReporter, backend: "ostree" as const };
    push1 = await pushImage(s1, { ...pushed, channel: true });
    push2 = await pushImage(s2, pushed);
    await ensureFixture(push1.lock.digest);

    image = join(work, "disk.img");
    const fh = await open(image, "w");
    await fh.truncate(6 * GIB);
    await fh.close();
    loop = (await run(["losetup", "--find", "--show", image])).stdout.trim();
    await run(["mkfs.ext4", "-q", "-L", "root", loop]);
    deployOut = await inTarget([
      "/run/installer-scripts/deploy/ostree-deploy",
      "--layout",
      "/run/payload",
      "--digest",
      push1.lock.digest,
      "--target-imgref",
      tracked,
      "--root",
      SYSROOT,
      "--stateroot",
      STATEROOT,
      "--no-bootloader",
      "--log",
      "/run/out/deploy.log",
    ]);
  }, 1_200_000);

  afterAll(async () => {
    await proxy?.stop();
    if (registry) await stopRegistry(registry);
    if (loop) await run(["losetup", "--detach", loop], { okExitCodes: [0, 1] });
    if (work) await safeRemove(work);
  });

  it("atomiso push --channel moves :stable; a plain push does not", async () => {
    expect(push1.channel).toBe(`${registry.host}/${REPOSITORY}:stable`);
    expect(push2.channel).toBeUndefined();
    expect(await digestOf(`${registry.host}/${REPOSITORY}:stable`)).toBe(push1.lock.digest);
    expect(push2.lock.digest).not.toBe(push1.lock.digest);
  });

  it("the image carries the update tool (atomiso image build's file layer)", async () => {
    const tool = await readFile(join(toolsRoot, "usr/lib/atomiso/update/atomiso-update"), "utf8");
    expect(tool).toBe(await readFile(join(scripts, "update/atomiso-update"), "utf8"));
    for (const f of ["verify-payload", "unpack-layer", "layout-store"]) {
      expect(existsSync(join(toolsRoot, "usr/lib/atomiso/deploy", f))).toBe(true);
    }
    const r = await inTarget(["atomiso-update", "--help"]);
    expect(r.stdout).toMatch(/^usage: atomiso-update status/);
  });

  it("the install keeps the image's layers in the stateroot's /var and records the tracked reference", async () => {
    const timing = /^atomiso-timing layout-store ([\d.]+)$/m.exec(deployOut.stdout);
    expect(timing).not.toBeNull();
    console.info(`install: layout store ${timing?.[1]} s (${push1.lock.size} bytes)`);
    const store = `${SYSROOT}/ostree/deploy/${STATEROOT}/var/lib/atomiso/oci`;
    const index = await inTarget(["cat", `${store}/index.json`]);
    expect(index.stdout).toContain(`"digest":"${push1.lock.digest}"`);
    await inTarget(["/run/installer-scripts/deploy/verify-payload", store, push1.lock.digest]);
    const [d] = await status();
    expect(d).toMatchObject({
      index: 0,
      version: "0.1.0",
      "image-reference": tracked,
      "manifest-digest": push1.lock.digest,
    });
  });

  it("refuses on a system that was not booted from ostree", async () => {
    const r = await inTarget([TOOL, "upgrade"], [1]);
    expect(r.stderr).toMatch(/error: this system was not booted from an ostree deployment/);
  });

  describe("updates from the :stable channel", () => {
    let before: string;
    beforeAll(async () => {
      const moved = await pushImage(s2, {
        reporter: silentReporter,
        backend: "ostree",
        channel: true,
      });
      expect(moved.channel).toBe(`${registry.host}/${REPOSITORY}:stable`);
      before = await bootState();
    }, 300_000);

    it("check sees 0.2.0 on the channel", async () => {
      const r = await update(["check"]);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toContain(`available: ${push2.lock.digest} (0.2.0)`);
      expect(r.stdout).toContain("update available");
    });

    it("refuses when the registry is unreachable, changing nothing", async () => {
      await proxy.stop();
      try {
        const r = await update(["upgrade"]);
        expect(r.exitCode).toBe(1);
        expect(r.stderr).toMatch(
          /error: cannot reach the registry 127\.0\.0\.1:\d+ .*Nothing was changed/,
        );
      } finally {
        await proxy.start();
      }
      expect(await bootState()).toBe(before);
    });

    it("refuses a registry that serves another manifest than the digest it promised", async () => {
      // For 0.2.0's digest, the proxy serves 0.1.0's manifest bytes.
      const store = join(work, "m1");
      await run([
        "skopeo",
        "inspect",
        "--raw",
        "--tls-verify=false",
        `docker://${registry.host}/${REPOSITORY}@${push1.lock.digest}`,
      ]).then((r) => writeFile(store, r.stdout));
      proxy.lieAbout = { digest: push2.lock.digest, body: await readFile(store) };
      try {
        const r = await update(["upgrade"]);
        expect(r.exitCode).toBe(1);
        expect(r.stderr).toMatch(
          /error: the registry 127\.0\.0\.1:\d+ served an image that does not match the digest it promised .*Manifest does not match.*Nothing was changed/,
        );
      } finally {
        proxy.lieAbout = undefined;
      }
      expect(await bootState()).toBe(before);
    });

    it("an upgrade killed in the middle leaves the default deployment and the next boot alone", async () => {
      let killed = false;
      const kill = async () => {
        // The tool's process group is the namespace's: unshare, harness, chroot, tool, tar.
        for (const pid of await readdir("/proc")) {
          if (!/^\d+$/.test(pid)) continue;
          const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
          if (!cmd.startsWith(`${TOOL}\0upgrade`) && !cmd.includes(`\0${TOOL}\0upgrade`)) continue;
          const stat = await readFile(`/proc/${pid}/stat`, "utf8");
          const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
          process.kill(-pgrp, "SIGKILL");
          killed = true;
          return;
        }
      };
      const r = await update(["upgrade"], (line) => {
        // At once: the work tree is made just before this line and consumed by the commit,
        // which an unloaded machine reached within the 3 s this waited before.
        if (line.includes("atomiso-update: unpacking") && !killed) void kill();
      }).catch((err: unknown) => err);
      expect(killed).toBe(true);
      expect(String(r)).toMatch(/SIGKILL/);
      expect(await bootState()).toBe(before);
    });

    it("upgrade stages 0.2.0, keeps 0.1.0 and fetches only the changed layers", async () => {
      const r = await update(["upgrade"]);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toContain("removing the work tree of an interrupted run");
      const fetched = Number(/^atomiso-update-fetched (\d+)$/m.exec(r.stdout)?.[1]);
      console.info(r.stdout);

      // What 0.2.0 has that 0.1.0 has not: its manifest, its config, the changed layers.
      const manifest = async (d: string) =>
        JSON.parse(
          (
            await run([
              "skopeo",
              "inspect",
              "--raw",
              "--tls-verify=false",
              `docker://${registry.host}/${REPOSITORY}@${d}`,
            ])
          ).stdout,
        ) as { config: { size: number }; layers: { digest: string; size: number }[] };
      const m1 = await manifest(push1.lock.digest);
      const m2 = await manifest(push2.lock.digest);
      const old = new Set(m1.layers.map((l) => l.digest));
      const changed = m2.layers.filter((l) => !old.has(l.digest));
      const raw2 = await run([
        "skopeo",
        "inspect",
        "--raw",
        "--tls-verify=false",
        `docker://${registry.host}/${REPOSITORY}@${push2.lock.digest}`,
      ]);
      const expected =
        Buffer.byteLength(raw2.stdout) + m2.config.size + changed.reduce((n, l) => n + l.size, 0);
      console.info(
        `upgrade fetched ${fetched} bytes: ${changed.length} changed layer(s) of ${m2.layers.length}, image ${push2.lock.size} bytes`,
      );
      expect(changed.length).toBeGreaterThan(0);
      expect(changed.length).toBeLessThan(m2.layers.length);
      expect(fetched).toBe(expected);
      expect(fetched).toBeLessThan(push2.lock.size / 20);

      const deployments = await status();
      expect(deployments).toHaveLength(2);
      expect(deployments[0]).toMatchObject({
        version: "0.2.0",
        "manifest-digest": push2.lock.digest,
        "image-reference": tracked,
      });
      expect(deployments[1]).toMatchObject({
        version: "0.1.0",
        "manifest-digest": push1.lock.digest,
      });
      const d0 = deployments[0] as Deployment;
      const osRelease = await inTarget([
        "bash",
        "-c",
        `cat ${SYSROOT}/ostree/deploy/${STATEROOT}/deploy/${d0.checksum}.*/usr/lib/os-release`,
      ]);
      expect(osRelease.stdout).toMatch(/^VERSION_ID=0\.2\.0$/m);
      expect(osRelease.stdout).toMatch(/^IMAGE_VERSION=0\.2\.0$/m);
      // The boot entries: 0.2.0 first.
      const entries = await inTarget(["bash", "-c", `cat ${SYSROOT}/boot/loader/entries/*.conf`]);
      expect(entries.stdout).toMatch(/ParticleOS 0\.2\.0/);
      // The store holds both images and nothing else.
      const index = await inTarget([
        "cat",
        `${SYSROOT}/ostree/deploy/${STATEROOT}/var/lib/atomiso/oci/index.json`,
      ]);
      expect(index.stdout).toContain(push1.lock.digest);
      expect(index.stdout).toContain(push2.lock.digest);

      const again = await update(["upgrade"]);
      expect(again.stdout).toMatch(/no update: .* which boots next already/);
    });

    it("refuses when the disk is too full to stage, changing nothing", async () => {
      // After a rollback 0.1.0 boots next again, so upgrade would stage 0.2.0 once more.
      const rb = await update(["rollback"]);
      expect(rb.exitCode, rb.stderr).toBe(0);
      const state = await bootState();
      const filler = `${SYSROOT}/filler`;
      await inTarget([
        "bash",
        "-c",
        `fallocate -l $(( $(df --output=avail -B1 ${SYSROOT} | tail -n 1) - 64 * 1048576 )) ${filler}`,
      ]);
      try {
        const r = await update(["upgrade"]);
        expect(r.exitCode).toBe(1);
        expect(r.stderr).toMatch(/error: the system has \d+ MiB free .* Nothing was changed/);
      } finally {
        await inTarget(["rm", "-f", filler]);
      }
      expect(await bootState()).toBe(state);
    });

    it("rollback swaps the two deployments back", async () => {
      // The previous test rolled back once: 0.1.0 first. Once more: 0.2.0 first again.
      const [a, b] = await status();
      expect(a?.version).toBe("0.1.0");
      const r = await update(["rollback"]);
      expect(r.exitCode, r.stderr).toBe(0);
      const [c, d] = await status();
      expect(c?.checksum).toBe(b?.checksum);
      expect(d?.checksum).toBe(a?.checksum);
      expect(c?.version).toBe("0.2.0");
    });

    it("switch stages another reference from the store and tracks it from then on", async () => {
      const bad = await update(["switch", "docker://example.org/x:1"]);
      expect(bad.exitCode).toBe(1);
      expect(bad.stderr).toMatch(
        /error: "docker:\/\/example.org\/x:1" is not a registry reference/,
      );

      const pinnedTag = `${proxy.host}/${REPOSITORY}:0.1.0`;
      const r = await update(["switch", pinnedTag, "--tls-verify=false"]);
      expect(r.exitCode, r.stderr).toBe(0);
      // Every blob of 0.1.0 is still in the store (its deployment is kept).
      expect(r.stdout).toMatch(/^atomiso-update-fetched 0$/m);
      const [a, b] = await status();
      expect(a).toMatchObject({
        version: "0.1.0",
        "image-reference": pinnedTag,
        "manifest-digest": push1.lock.digest,
      });
      expect(b).toMatchObject({ version: "0.2.0", "image-reference": tracked });
      const origin = await inTarget([
        "bash",
        "-c",
        `cat ${SYSROOT}/ostree/deploy/${STATEROOT}/deploy/${a?.checksum}.*.origin`,
      ]);
      expect(origin.stdout).toMatch(/^image-reference=.*:0\.1\.0$/m);
      expect(origin.stdout).toMatch(/^tls-verify=false$/m);
      const text = await update(["status"]);
      expect(text.stdout).toMatch(/^ {2}0: 0\.1\.0 \(default\)$/m);
      expect(text.stdout).toContain(`      digest  ${push2.lock.digest}`);
    });
  });
});
