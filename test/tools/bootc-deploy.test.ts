// The bootc deploy backend (installer-scripts/deploy/bootc-deploy). No bootc image can be
// obtained on these machines (no network beyond npm and Debian mirrors), so bootc never runs
// here: this proves the exact commands it would run (--print-command: skopeo copy of the pinned
// image into container storage, `podman run … bootc install to-filesystem`, `bootc install
// finalize`) and that every refusal comes with its message before anything is written.
//
// The payload is a tiny hand-made OCI image layout (one small gzip layer, sha256s computed
// here); the target is a directory made a mount point (and its /boot, /boot/efi) inside a
// private mount namespace (unshare), so nothing leaks into the host's mount table.
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { type RunResult, run } from "../../src/tools/exec.js";
import { inPrivateMountNamespace } from "../../src/tools/namespace.js";

const repo = join(import.meta.dirname, "../..");
const BACKEND = join(repo, "installer-scripts/deploy/bootc-deploy");
const IMGREF = "registry.example.org/particleos/system:0.1.0";
const TAG = "0.1.0";
const STATEROOT = "particleos";

// usage: harness TARGET MOUNT_ROOT(0|1) MOUNT_ESP(0|1) PATH_FOR_BACKEND -- COMMAND...
const HARNESS = `#!/bin/bash
set -euo pipefail
target=$1 mount_root=$2 mount_esp=$3 backend_path=$4
shift 4
[ "\${1:-}" = -- ] && shift
if [ "$(readlink /proc/self/ns/mnt)" = "$(readlink /proc/1/ns/mnt)" ]; then
  echo "harness: not in a private mount namespace" >&2
  exit 1
fi
if [ "$mount_root" = 1 ]; then mount --bind "$target" "$target"; fi
mount --bind "$target/boot" "$target/boot"
if [ "$mount_esp" = 1 ]; then mount --bind "$target/boot/efi" "$target/boot/efi"; fi
PATH=$backend_path exec "$@"
`;

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

interface Layout {
  dir: string;
  digest: string;
  layerBlob: string;
}

/** One small gzip layer, its config and manifest, index.json naming it by TAG. */
async function makeLayout(dir: string): Promise<Layout> {
  const blobs = join(dir, "blobs/sha256");
  await mkdir(blobs, { recursive: true });
  const content = join(dir, "..", "layer-content");
  await mkdir(join(content, "usr/lib/bootc"), { recursive: true });
  await writeFile(join(content, "usr/lib/os-release"), "ID=particleos\n");
  const tar = join(dir, "..", "layer.tar");
  await run(["tar", "--numeric-owner", "--owner=0", "--group=0", "-C", content, "-cf", tar, "usr"]);
  const tarBytes = await readFile(tar);
  await run(["gzip", "-n", "-k", tar]);
  const layer = await readFile(`${tar}.gz`);
  const put = async (data: Buffer | string) => {
    const hex = sha256(data);
    await writeFile(join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: Buffer.byteLength(data) };
  };
  const layerDesc = await put(layer);
  const config = JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config: { Labels: { "containers.bootc": "1" } },
    rootfs: { type: "layers", diff_ids: [`sha256:${sha256(tarBytes)}`] },
  });
  const configDesc = await put(config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...configDesc },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layerDesc }],
  });
  const manifestDesc = await put(manifest);
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifestDesc,
          annotations: { "org.opencontainers.image.ref.name": TAG },
        },
      ],
    }),
  );
  return { dir, digest: manifestDesc.digest, layerBlob: join(blobs, layerDesc.digest.slice(7)) };
}

describe("bootc deploy backend: invocation and refusals", () => {
  let work: string;
  let harness: string;
  let layout: Layout;
  let noPodman: string;
  const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  let runRoot: string | undefined;
  let n = 0;

  beforeAll(async () => {
    await mkdir("/var/tmp", { recursive: true });
    work = await mkdtemp("/var/tmp/atomiso-bootc-deploy-test-");
    harness = join(work, "harness");
    await writeFile(harness, HARNESS, { mode: 0o755 });
    await mkdir(join(work, "payload"));
    layout = await makeLayout(join(work, "payload", "layout"));
    // A PATH with everything of /usr/bin and /usr/sbin but podman.
    noPodman = join(work, "no-podman-bin");
    await mkdir(noPodman);
    const seen = new Set<string>();
    for (const d of ["/usr/sbin", "/usr/bin"]) {
      for (const name of readdirSync(d)) {
        if (name === "podman" || seen.has(name)) continue;
        seen.add(name);
        await symlink(join(d, name), join(noPodman, name));
      }
    }
  });

  afterAll(async () => {
    if (runRoot) await safeRemove(runRoot);
    if (work) await safeRemove(work);
  });

  /** A formatted, empty target: root with boot/ and boot/efi/ (mounted by the harness). */
  async function makeTarget(): Promise<{ root: string; log: string }> {
    const dir = join(work, `case-${++n}`);
    const root = join(dir, "target");
    await mkdir(join(root, "boot/efi"), { recursive: true });
    await mkdir(join(root, "lost+found"));
    return { root, log: join(dir, "log/bootc-deploy.log") };
  }

  async function listing(dir: string): Promise<string[]> {
    return (await readdir(dir, { recursive: true })).map(String).sort();
  }

  function deploy(
    t: { root: string; log: string },
    o: {
      digest?: string;
      firmware?: "bios" | "efi";
      mountRoot?: boolean;
      mountEsp?: boolean;
      path?: string;
      extra?: string[];
    } = {},
  ): Promise<RunResult> {
    return run(
      inPrivateMountNamespace([
        "bash",
        harness,
        t.root,
        o.mountRoot === false ? "0" : "1",
        o.mountEsp ? "1" : "0",
        o.path ?? defaultPath,
        "--",
        BACKEND,
        "--layout",
        layout.dir,
        "--digest",
        o.digest ?? layout.digest,
        "--target-imgref",
        IMGREF,
        "--root",
        t.root,
        "--stateroot",
        STATEROOT,
        "--ref",
        `atomiso/${STATEROOT}`,
        "--karg",
        "console=tty0",
        "--karg",
        "console=ttyS0,115200",
        "--firmware",
        o.firmware ?? "bios",
        "--disk",
        "/dev/vda",
        "--log",
        t.log,
        "--print-command",
        ...(o.extra ?? []),
      ]),
      { okExitCodes: [0, 1] },
    );
  }

  const podmanOpts = (root: string) => [
    "--rm",
    "--privileged",
    "--pid=host",
    "--ipc=host",
    "--security-opt",
    "label=type:unconfined_t",
    "--pull=never",
    "-v",
    "/dev:/dev",
    "-v",
    "/var/lib/containers:/var/lib/containers",
    "-v",
    `${root}:/target`,
  ];

  function expectRefusal(r: RunResult, message: string) {
    expect(r.exitCode).toBe(1);
    const last = r.stderr.trim().split("\n").at(-1) ?? "";
    expect(last).toMatch(/^atomiso-error: /);
    expect(last).toContain(message);
    expect(last).toContain("(nothing was written to the target)");
    expect(r.stdout).not.toMatch(/^(skopeo|podman)$/m);
  }

  it("prints the exact skopeo, bootc install to-filesystem and finalize commands", async () => {
    const t = await makeTarget();
    const before = await listing(t.root);
    const r = await deploy(t);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split("\n");
    // Protocol lines first, then the three commands (one argument per line, blank-separated).
    expect(lines.slice(0, 2)).toEqual([
      "atomiso-progress 0 Checking the installation target",
      "atomiso-progress 2 Verifying the system image",
    ]);
    expect(lines[2]).toMatch(/^atomiso-timing verify [\d.]+$/);
    const blocks = lines
      .slice(3)
      .join("\n")
      .trimEnd()
      .split("\n\n")
      .map((b) => b.split("\n"));
    expect(blocks).toEqual([
      [
        "skopeo",
        "copy",
        "--preserve-digests",
        `oci:${layout.dir}:${TAG}`,
        `containers-storage:${IMGREF}`,
      ],
      [
        "podman",
        "run",
        ...podmanOpts(t.root),
        IMGREF,
        "bootc",
        "install",
        "to-filesystem",
        "--skip-finalize",
        "--skip-fetch-check",
        "--target-imgref",
        IMGREF,
        "--stateroot",
        STATEROOT,
        "--karg",
        "console=tty0",
        "--karg",
        "console=ttyS0,115200",
        "/target",
      ],
      ["podman", "run", ...podmanOpts(t.root), IMGREF, "bootc", "install", "finalize", "/target"],
    ]);
    expect(await listing(t.root)).toEqual(before);
    const log = await readFile(t.log, "utf8");
    expect(log).toContain("manifest, config and 1 layer(s) verified");
    expect(log).toContain("note: --ref atomiso/particleos is ignored");
  });

  it("its skopeo copy stores exactly the pinned manifest (in a throwaway storage)", async () => {
    const t = await makeTarget();
    const r = await deploy(t);
    const start = r.stdout.split("\n").indexOf("skopeo");
    const argv = r.stdout.split("\n").slice(start, start + 4);
    expect(argv).toEqual(["skopeo", "copy", "--preserve-digests", `oci:${layout.dir}:${TAG}`]);
    // The same source and flags into a vfs storage below the test directory instead of the
    // live system's, then the digest check bootc-deploy makes (podman image inspect).
    const storage = join(work, "storage");
    // podman wants a run root of at most 50 characters.
    runRoot = await mkdtemp("/tmp/atomiso-rr-");
    const spec = `vfs@${storage}/root+${runRoot}`;
    await run([...argv, "--quiet", `containers-storage:[${spec}]${IMGREF}`]);
    const podman = [
      "podman",
      "--root",
      `${storage}/root`,
      "--runroot",
      runRoot,
      "--storage-driver",
      "vfs",
    ];
    const { stdout } = await run([
      ...podman,
      "image",
      "inspect",
      "--format",
      "{{.Digest}}",
      IMGREF,
    ]);
    expect(stdout.trim()).toBe(layout.digest);
  });

  it("on UEFI needs the ESP mounted at ROOT/boot/efi", async () => {
    const t = await makeTarget();
    expectRefusal(
      await deploy(t, { firmware: "efi" }),
      `no EFI system partition is mounted at ${t.root}/boot/efi; mount the ESP (vfat) there first`,
    );
    const ok = await deploy(t, { firmware: "efi", mountEsp: true });
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toContain("\nto-filesystem\n");
  });

  it("refuses a payload without the pinned digest", async () => {
    const t = await makeTarget();
    const before = await listing(t.root);
    const wrong = `sha256:${"0".repeat(64)}`;
    const r = await deploy(t, { digest: wrong });
    expectRefusal(r, `the payload does not contain the image ${wrong} (it has: ${layout.digest})`);
    expect(await listing(t.root)).toEqual(before);
  });

  it("refuses a corrupted layer blob", async () => {
    const t = await makeTarget();
    const original = await readFile(layout.layerBlob);
    const broken = Buffer.from(original);
    broken[broken.length - 5] = (broken[broken.length - 5] ?? 0) ^ 0xff;
    await writeFile(layout.layerBlob, broken);
    try {
      const r = await deploy(t);
      expectRefusal(r, "does not match its content");
      expect(r.stderr).toContain("layer 0 sha256:");
    } finally {
      await writeFile(layout.layerBlob, original);
    }
    expect(await listing(t.root)).toEqual(["boot", "boot/efi", "lost+found"]);
  });

  it("refuses a target root that is not a mount point", async () => {
    const t = await makeTarget();
    const r = await deploy(t, { mountRoot: false });
    expectRefusal(
      r,
      `${t.root} is not a mount point; mount the target root file system there first`,
    );
  });

  it("refuses a target root that is not empty", async () => {
    const t = await makeTarget();
    await writeFile(join(t.root, "leftover"), "x");
    const r = await deploy(t);
    expectRefusal(r, `the target root ${t.root} is not empty (it has: leftover ); format it first`);
  });

  it("refuses without podman in the live system", async () => {
    const t = await makeTarget();
    const r = await deploy(t, { path: noPodman });
    expectRefusal(r, "podman is not installed in the live system");
    expect(await listing(t.root)).toEqual(["boot", "boot/efi", "lost+found"]);
  });

  it("refuses kernel arguments the installer sets", async () => {
    const t = await makeTarget();
    const r = await deploy(t, { extra: ["--karg", "root=/dev/sda4"] });
    expectRefusal(r, "kernel argument root=/dev/sda4 is set by the installer");
    // Only the installers' own btrfs form of rootflags= passes; any other is refused.
    const flags = await deploy(await makeTarget(), { extra: ["--karg", "rootflags=noatime"] });
    expectRefusal(flags, "kernel argument rootflags=noatime is set by the installer");
  });
});
