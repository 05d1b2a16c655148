// The ostree deploy backend (installer-scripts/deploy/ostree-deploy) for real, on a sparse
// 8 GiB disk image attached to a loop device and partitioned the way the installer does it
// (GPT: bios_grub, ESP, /boot, root). The backend runs in a chroot of the example image's own
// tree (Debian trixie: ostree 2025.2, GNU tar, perl-base, util-linux, the same userland as the
// live system), so the host needs no ostree. Every mount happens inside a private mount
// namespace (a small harness run under unshare), so nothing can leak into the host's mount
// table; the loop device is detached in afterAll.
//
// What this host cannot do: mount vfat, so the ESP stays unmounted and the UEFI half of the
// boot loader is skipped (the backend logs why); GRUB for BIOS goes to the loop disk and is
// checked byte by byte. Booting the result is the boot tier's job.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import {
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  readlink,
  rename,
  symlink,
  writeFile,
} from "node:fs/promises";
import { dirname, join } from "node:path";
import { parse, stringify } from "smol-toml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { buildImage } from "../../src/image/build.js";
import { imageSettings } from "../../src/image/settings.js";
import { silentReporter } from "../../src/log/reporter.js";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { defaultCacheDir } from "../../src/paths.js";
import { writeDeployHarness } from "../../src/tools/deploy-harness.js";
import { hasCommand, type RunResult, run } from "../../src/tools/exec.js";
import { inPrivateMountNamespace } from "../../src/tools/namespace.js";

const repo = join(import.meta.dirname, "../..");
const scripts = join(repo, "installer-scripts/deploy");
const example = join(repo, "examples/particleos/atomiso.toml");
/** Built by the image pipeline (test/tools/image-pipeline.test.ts); built here if missing. */
const TAG = "localhost/atomiso-test/particleos:pipeline";
/** The OCI layout and the unpacked image tree, kept across runs (keyed by image id). */
const FIXTURES = "/var/tmp/atomiso-deploy-fixture";
const IMGREF = "registry.example.org/particleos/system:0.1.0";
const STATEROOT = "particleos";
const REF = "particleos/system";
const KARGS = ["console=ttyS0,115200", "quiet"];
const GIB = 1024 * 1024 * 1024;
const BIOS_BOOT_START = 2048;

interface Fixture {
  layout: string;
  toolsRoot: string;
  digest: string;
}

/** Builds the example image with the project's image build code if it is not there. */
async function ensureImage(work: string): Promise<string> {
  const exists = await run(["podman", "image", "exists", TAG], { okExitCodes: [0, 1] });
  if (exists.exitCode !== 0) {
    const raw = parse(await readFile(example, "utf8")) as Record<string, Record<string, unknown>>;
    const image = raw.image as Record<string, unknown>;
    image.containerfile = join(repo, "oci/particleos/Containerfile");
    image.context = join(repo, "oci/particleos");
    image.tag = TAG;
    raw.branding = { ...raw.branding, folder: join(repo, "examples/particleos/branding") };
    // The profile lives in a temp folder: allow the example's files where they are.
    raw.files = { extra_roots: [join(repo, "oci/particleos"), join(repo, "examples/particleos")] };
    const file = join(work, "profile", "atomiso.toml");
    await mkdir(join(work, "profile"), { recursive: true });
    await writeFile(file, stringify(raw));
    const settings = imageSettings(await loadConfig(file));
    await buildImage(settings, { cacheDir: defaultCacheDir(), reporter: silentReporter });
  }
  const { stdout } = await run(["podman", "image", "inspect", "--format", "{{.Id}}", TAG]);
  return stdout.trim().replace(/^sha256:/, "");
}

/**
 * The image as an OCI layout (the payload) and unpacked (the tools root the backend runs in),
 * made once per image id with the backend's own verify-payload and unpack-layer.
 */
async function ensureFixture(work: string): Promise<Fixture> {
  const id = await ensureImage(work);
  await mkdir(FIXTURES, { recursive: true });
  const dir = join(FIXTURES, id.slice(0, 12));
  const fixture = (digest: string): Fixture => ({
    layout: join(dir, "layout"),
    toolsRoot: join(dir, "tools-root"),
    digest,
  });
  if (existsSync(join(dir, "digest"))) {
    return fixture((await readFile(join(dir, "digest"), "utf8")).trim());
  }
  // Stale fixtures of older images, and half-made ones of killed runs.
  for (const name of await readdir(FIXTURES)) {
    if (/^[0-9a-f]{12}$/.test(name) || name.startsWith(".tmp-")) {
      await safeRemove(join(FIXTURES, name));
    }
  }
  const tmp = join(FIXTURES, `.tmp-${process.pid}`);
  await mkdir(tmp);
  const layout = join(tmp, "layout");
  await run(["skopeo", "copy", `containers-storage:${TAG}`, `oci:${layout}:particleos`]);
  const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8")) as {
    manifests: { digest: string }[];
  };
  const digest = index.manifests[0]?.digest;
  if (!digest) throw new Error(`${layout}/index.json lists no manifest`);
  const { stdout } = await run([join(scripts, "verify-payload"), layout, digest]);
  const toolsRoot = join(tmp, "tools-root");
  await mkdir(toolsRoot);
  for (const line of stdout.split("\n")) {
    const [kind, mediaType, path] = line.split("\t");
    if (kind !== "layer" || !mediaType || !path) continue;
    await run([join(scripts, "unpack-layer"), toolsRoot, mediaType, path]);
  }
  await writeFile(join(tmp, "digest"), `${digest}\n`);
  await rename(tmp, dir);
  return fixture(digest);
}

async function readBytes(file: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(file, "r");
  try {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, offset);
    return buf;
  } finally {
    await fh.close();
  }
}

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** `atomiso-timing <phase> <seconds>` lines of the backend's output. */
function timings(stdout: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of stdout.matchAll(/^atomiso-timing (\S+) ([\d.]+)$/gm)) {
    if (m[1] && m[2]) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** A sparse disk image on a loop device, partitioned and formatted as the installer does. */
interface Disk {
  image: string;
  loop: string;
  part: (n: number) => string;
  /** The root file system's partition and the /boot one ("-": none, /boot is in the root). */
  root: string;
  boot: string;
}

describe("ostree deploy backend on a loop-device disk", () => {
  let work: string;
  let out: string;
  let fx: Fixture;
  let harness: string;
  let disk: Disk;
  const loops: string[] = [];
  let uuids: { esp: string; boot: string; root: string };

  /** An empty (sparse) disk image of `size` bytes in the work folder. */
  async function sparseImage(name: string, size: number): Promise<string> {
    const image = join(work, name);
    await writeFile(image, "");
    const fh = await open(image, "r+");
    await fh.truncate(size);
    await fh.close();
    return image;
  }

  /** GPT: 1 MiB bios_grub, the ESP (vfat), /boot (ext4), the rest root (ext4). */
  async function makeDisk(name: string, size: number, espMiB: number, bootMiB: number) {
    const image = await sparseImage(name, size);
    await run([
      "sgdisk",
      `--new=1:${BIOS_BOOT_START}:+1M`,
      "--typecode=1:21686148-6449-6E6F-744E-656564454649",
      "--change-name=1:bios",
      `--new=2:0:+${espMiB}M`,
      "--typecode=2:C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
      "--change-name=2:esp",
      `--new=3:0:+${bootMiB}M`,
      "--typecode=3:0FC63DAF-8483-4772-8E79-3D69D8477DE4",
      "--change-name=3:boot",
      "--new=4:0:0",
      "--typecode=4:4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
      "--change-name=4:root",
      image,
    ]);
    const { loop, part } = await attach(image, 4);
    await run(["mkfs.fat", "-F", "32", "-n", "EFI", part(2)]);
    await run(["mkfs.ext4", "-q", "-L", "boot", part(3)]);
    await run(["mkfs.ext4", "-q", "-L", "root", part(4)]);
    return { image, loop, part, root: part(4), boot: part(3) };
  }

  /** Loop device `image` with its partition nodes (partx: losetup -P may not make them). */
  async function attach(image: string, last: number) {
    const loop = (await run(["losetup", "--find", "--show", image])).stdout.trim();
    loops.push(loop);
    const part = (n: number) => `${loop}p${n}`;
    // Nodes a previous user of this loop device left behind would make --add fail.
    await run(["partx", "--delete", loop], { okExitCodes: [0, 1] });
    await run(["partx", "--add", loop]);
    for (let i = 0; i < 50 && !existsSync(part(last)); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    return { loop, part };
  }

  /** MBR with one ext4 partition for everything, freshly made (no /boot directory in it). */
  async function makeOnePartitionDisk(name: string, size: number): Promise<Disk> {
    const image = await sparseImage(name, size);
    await run(["sfdisk", "--quiet", image], { input: "label: dos\nstart=2048, type=83\n" });
    const { loop, part } = await attach(image, 1);
    await run(["mkfs.ext4", "-q", "-L", "root", part(1)]);
    return { image, loop, part, root: part(1), boot: "-" };
  }

  /** Runs COMMAND in the tools root with the target on `on` mounted (src/tools/deploy-harness.ts). */
  function inTarget(
    command: string[],
    o: { mode?: "rw" | "ro"; layout?: string; ok?: number[]; on?: Disk } = {},
  ): Promise<RunResult> {
    const target = o.on ?? disk;
    return run(
      inPrivateMountNamespace([
        "bash",
        harness,
        fx.toolsRoot,
        target.root,
        target.boot,
        o.layout ?? fx.layout,
        scripts,
        out,
        o.mode ?? "ro",
        "--",
        ...command,
      ]),
      { okExitCodes: o.ok ?? [0], timeoutMs: 300_000 },
    );
  }

  function deploy(
    args: string[],
    o: { layout?: string; log?: string; on?: Disk; firmware?: string } = {},
  ) {
    const target = o.on ?? disk;
    return inTarget(
      [
        "/run/scripts/ostree-deploy",
        "--layout",
        "/run/payload",
        "--target-imgref",
        IMGREF,
        "--root",
        "/run/target",
        "--stateroot",
        STATEROOT,
        "--ref",
        REF,
        "--log",
        o.log ?? "/run/out/deploy.log",
        "--firmware",
        o.firmware ?? "bios",
        "--disk",
        target.loop,
        ...KARGS.flatMap((k) => ["--karg", k]),
        ...args,
      ],
      { mode: "rw", ok: [0, 1], on: target, ...(o.layout ? { layout: o.layout } : {}) },
    );
  }

  /** What a refused install must leave: an empty root and /boot, an untouched boot area. */
  async function expectNothingWritten(target: Disk, bootArea: string): Promise<void> {
    const { stdout } = await inTarget(["ls", "-A", "/run/target", "/run/target/boot"], {
      on: target,
    });
    expect(stdout).toBe("/run/target:\nboot\nlost+found\n\n/run/target/boot:\nefi\nlost+found\n");
    expect(sha256(await readBytes(target.image, 0, 2 * 1024 * 1024))).toBe(bootArea);
  }

  beforeAll(async () => {
    work = await mkdtemp("/var/tmp/atomiso-ostree-deploy-");
    out = join(work, "out");
    await mkdir(out);
    harness = await writeDeployHarness(work);
    fx = await ensureFixture(work);
    disk = await makeDisk("disk.img", 8 * GIB, 512, 1024);
    const uuid = async (dev: string) =>
      (await run(["blkid", "-p", "-o", "value", "-s", "UUID", dev])).stdout.trim();
    uuids = {
      esp: await uuid(disk.part(2)),
      boot: await uuid(disk.part(3)),
      root: await uuid(disk.part(4)),
    };
  });

  afterAll(async () => {
    for (const loop of loops.reverse()) {
      await run(["partx", "--delete", loop], { okExitCodes: [0, 1] });
      await run(["losetup", "--detach", loop], { okExitCodes: [0, 1] });
    }
    if (work) await safeRemove(work);
  });

  describe("refuses before writing anything", () => {
    let bootArea: string;
    beforeAll(async () => {
      bootArea = sha256(await readBytes(disk.image, 0, 2 * 1024 * 1024));
    });

    it("a corrupted layer blob", async () => {
      // A copy of the layout with one byte of the last (small) layer changed.
      const bad = join(work, "bad-layout");
      await run(["cp", "-al", "--", fx.layout, bad]);
      const manifest = JSON.parse(
        await readFile(join(bad, "blobs/sha256", fx.digest.slice(7)), "utf8"),
      ) as { layers: { digest: string }[] };
      const layer = manifest.layers.at(-1)?.digest ?? "";
      const blob = join(bad, "blobs/sha256", layer.slice(7));
      const data = await readFile(blob);
      data[100] = (data[100] ?? 0) ^ 0xff;
      await safeRemove(blob); // a hard link into the fixture: replace it, never edit it
      await writeFile(blob, data);

      const r = await deploy(["--digest", fx.digest], { layout: bad, log: "/run/out/corrupt.log" });
      expect(r.exitCode).toBe(1);
      const lines = r.stderr.trim().split("\n");
      expect(lines.at(-1)).toMatch(
        new RegExp(
          `^atomiso-error: layer \\d+ ${layer} does not match its content .*the payload is damaged.*nothing was written to the target`,
        ),
      );
      expect(r.stdout).not.toMatch(/Unpacking/);
      await expectNothingWritten(disk, bootArea);
    });

    it("a digest the payload does not contain", async () => {
      const wrong = `sha256:${"0".repeat(64)}`;
      const r = await deploy(["--digest", wrong], { log: "/run/out/wrong-digest.log" });
      expect(r.exitCode).toBe(1);
      expect(r.stderr.trim().split("\n").at(-1)).toMatch(
        new RegExp(
          `^atomiso-error: the payload does not contain the image ${wrong} \\(it has: ${fx.digest}\\).*nothing was written to the target`,
        ),
      );
      await expectNothingWritten(disk, bootArea);
    });

    it("UEFI firmware without a mounted EFI system partition", async () => {
      const r = await deploy(["--digest", fx.digest], {
        firmware: "efi",
        log: "/run/out/no-esp.log",
      });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(
        /atomiso-error: no EFI system partition is mounted at \/run\/target\/boot\/efi.*nothing was written/,
      );
      await expectNothingWritten(disk, bootArea);
    });
    it("a root file system too small for the image", async () => {
      // 1.5 GiB: 256 MiB ESP, 512 MiB /boot, ≈ 700 MiB root for an image that needs ≈ 1.2 GiB.
      const small = await makeDisk("small.img", 1.5 * GIB, 256, 512);
      const smallArea = sha256(await readBytes(small.image, 0, 2 * 1024 * 1024));
      const r = await deploy(["--digest", fx.digest], { on: small, log: "/run/out/small.log" });
      expect(r.exitCode).toBe(1);
      expect(r.stderr.trim().split("\n").at(-1)).toMatch(
        /^atomiso-error: the root file system has \d+ MiB free, the image needs about \d+ MiB; choose a bigger disk or partition \(nothing was written to the target\)/,
      );
      await expectNothingWritten(small, smallArea);
    });
  });

  describe("deploys the example image with GRUB for BIOS", () => {
    let result: RunResult;
    let csum: string;
    let deployment: string;

    beforeAll(async () => {
      const started = Date.now();
      result = await deploy(["--digest", fx.digest]);
      const t = timings(result.stdout);
      console.info(
        `ostree deploy: verify ${t.verify}s, unpack ${t.unpack}s, commit ${t.commit}s, deploy ${t.deploy}s, boot loader ${t.bootloader}s, total ${t.total}s (wall ${((Date.now() - started) / 1000).toFixed(1)}s)`,
      );
      if (result.exitCode !== 0) {
        const log = await readFile(join(out, "deploy.log"), "utf8").catch(() => "");
        console.error(
          `${result.stderr}\n--- deploy.log (tail) ---\n${log.split("\n").slice(-60).join("\n")}`,
        );
      }
      csum = (
        await inTarget(["ostree", "--repo=/run/target/ostree/repo", "rev-parse", REF], {
          ok: [0, 1],
        })
      ).stdout.trim();
      deployment = `/run/target/ostree/deploy/${STATEROOT}/deploy/${csum}.0`;
    });

    const cat = async (path: string) => (await inTarget(["cat", "--", path])).stdout;

    it("succeeds and reports progress up to 100 % and its timings", () => {
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
      const steps = [...result.stdout.matchAll(/^atomiso-progress (\d+) (.+)$/gm)].map((m) =>
        Number(m[1]),
      );
      expect(steps.length).toBeGreaterThan(8);
      expect(steps).toEqual([...steps].sort((a, b) => a - b));
      expect(steps.at(-1)).toBe(100);
      expect(Object.keys(timings(result.stdout))).toEqual(
        expect.arrayContaining(["verify", "unpack", "commit", "deploy", "bootloader", "total"]),
      );
      // The ESP cannot be mounted here: the UEFI half is skipped, and says so.
      expect(result.stdout).toMatch(
        /atomiso: note: no EFI system partition is mounted .* skipping GRUB for UEFI/,
      );
    });

    it("leaves only ostree's layout on the target", async () => {
      const { stdout } = await inTarget(["ls", "-A", "/run/target"]);
      expect(stdout.split("\n").filter(Boolean)).toEqual(["boot", "lost+found", "ostree"]);
    });

    it("has a deployment that ostree admin status shows, with the image version", async () => {
      expect(csum).toMatch(/^[0-9a-f]{64}$/);
      const { stdout } = await inTarget(["ostree", "admin", "status", "--sysroot=/run/target"]);
      expect(stdout).toContain(`${STATEROOT} ${csum}.0`);
      expect(stdout).toContain("Version: 0.1.0");
      expect(stdout).toContain(`origin refspec: ${REF}`);
    });

    it("records the registry reference and digest in the origin", async () => {
      const origin = await cat(`${deployment}.origin`);
      expect(origin).toContain(`[origin]\nrefspec=${REF}\n`);
      expect(origin).toContain(
        `[atomiso]\nimage-reference=${IMGREF}\nmanifest-digest=${fx.digest}\n`,
      );
    });

    it("records them in the commit metadata too", async () => {
      const key = async (k: string) =>
        (
          await inTarget([
            "ostree",
            "show",
            "--repo=/run/target/ostree/repo",
            `--print-metadata-key=${k}`,
            REF,
          ])
        ).stdout.trim();
      expect(await key("atomiso.image-reference")).toBe(`'${IMGREF}'`);
      expect(await key("atomiso.manifest-digest")).toBe(`'${fx.digest}'`);
      expect(await key("version")).toBe("'0.1.0'");
    });

    it("writes a BLS entry with root=UUID and the kernel arguments", async () => {
      const { stdout } = await inTarget(["ls", "/run/target/boot/loader/entries"]);
      const entries = stdout.split("\n").filter(Boolean);
      expect(entries).toEqual(["ostree-1.conf"]);
      const entry = await cat(`/run/target/boot/loader/entries/${entries[0]}`);
      const options = entry.match(/^options (.*)$/m)?.[1] ?? "";
      expect(options.split(" ")).toEqual([
        `root=UUID=${uuids.root}`,
        "rw",
        ...KARGS,
        expect.stringMatching(new RegExp(`^ostree=/ostree/boot\\.1/${STATEROOT}/[0-9a-f]{64}/0$`)),
      ]);
      expect(entry).toMatch(new RegExp(`^linux /ostree/${STATEROOT}-[0-9a-f]{64}/vmlinuz-`, "m"));
      expect(entry).toMatch(/^initrd \/ostree\/.*\/initramfs-.*\.img$/m);
    });

    it("committed /etc as /usr/etc, and the deployment has its own /etc", async () => {
      const ls = (path: string) =>
        inTarget(["ostree", "ls", "--repo=/run/target/ostree/repo", REF, path], { ok: [0, 1] });
      expect((await ls("/usr/etc/default/grub")).exitCode).toBe(0);
      expect((await ls("/etc")).exitCode).toBe(1);
      expect((await inTarget(["ls", "-A", `${deployment}/etc/default`])).stdout).toContain("grub");
      expect((await inTarget(["ls", "-A", `${deployment}/dev`])).stdout).toBe("");
    });

    it("writes the deployment's fstab with /boot and /boot/efi by UUID", async () => {
      const fstab = await cat(`${deployment}/etc/fstab`);
      const rows = fstab
        .split("\n")
        .filter((l) => l && !l.startsWith("#"))
        .map((l) => l.split(/\s+/));
      expect(rows).toEqual([
        [`UUID=${uuids.boot}`, "/boot", "ext4", "defaults", "0", "2"],
        [`UUID=${uuids.esp}`, "/boot/efi", "vfat", "umask=0077,shortname=winnt", "0", "2"],
      ]);
    });

    it("installs GRUB for BIOS: boot.img in the MBR, core.img in the bios_grub partition", async () => {
      const bootImg = await readFile(join(fx.toolsRoot, "usr/lib/grub/i386-pc/boot.img"));
      const mbr = await readBytes(disk.image, 0, 512);
      // boot.img's code and messages, with the BPB, the patched kernel sector and boot drive
      // bytes and the partition table left out.
      expect(mbr.subarray(0, 3)).toEqual(bootImg.subarray(0, 3));
      expect(mbr.subarray(0x68, 0x1b8)).toEqual(bootImg.subarray(0x68, 0x1b8));
      expect(mbr.subarray(0x180, 0x1b0).toString("latin1")).toContain("GRUB \0Geom\0Hard Disk");
      expect(mbr.readBigUInt64LE(0x5c)).toBe(BigInt(BIOS_BOOT_START)); // where core.img starts
      expect(mbr.readUInt16LE(510)).toBe(0xaa55);

      await inTarget(["cp", "/run/target/boot/grub/i386-pc/core.img", "/run/out/core.img"]);
      const coreImg = await readFile(join(out, "core.img"));
      const embedded = await readBytes(disk.image, BIOS_BOOT_START * 512, coreImg.length);
      const differing = [...coreImg.keys()].filter((i) => coreImg[i] !== embedded[i]);
      // Only the block lists grub-install patches differ from /boot/grub/i386-pc/core.img.
      expect(coreImg.length).toBeGreaterThan(20_000);
      expect(differing.length).toBeLessThan(16);
      const diskboot = await readFile(join(fx.toolsRoot, "usr/lib/grub/i386-pc/diskboot.img"));
      expect(embedded.subarray(0, 0x1f0)).toEqual(diskboot.subarray(0, 0x1f0));
    });

    it("generates grub.cfg with the ostree entry, reached through /boot/grub/grub.cfg", async () => {
      const link = await inTarget(["readlink", "/run/target/boot/grub/grub.cfg"]);
      expect(link.stdout.trim()).toBe("../loader/grub.cfg");
      const cfg = await cat("/run/target/boot/grub/grub.cfg");
      const entries = cfg.match(/^menuentry .*$/gm) ?? [];
      expect(entries).toHaveLength(1);
      expect(entries[0]).toContain("(ostree:0)");
      expect(cfg).toContain(`search --no-floppy --fs-uuid --set=root ${uuids.boot}`);
      expect(cfg).toMatch(
        new RegExp(
          `^\\s*linux /ostree/${STATEROOT}-[0-9a-f]{64}/vmlinuz-\\S+ root=UUID=${uuids.root} rw ${KARGS.join(" ")} ostree=/ostree/boot\\.1/`,
          "m",
        ),
      );
      const config = await cat("/run/target/ostree/repo/config");
      expect(config).toMatch(/^bootloader=grub2$/m);
    });

    it("keeps the log on the target", async () => {
      const log = await cat(
        `/run/target/ostree/deploy/${STATEROOT}/var/log/atomiso/ostree-deploy.log`,
      );
      expect(log).toContain("ostree commit");
      expect(log).toContain("grub-install --target=i386-pc");
    });
  });

  // Calamares' manual partitioning can leave one partition for everything on an MBR disk: its
  // fresh file system has no /boot directory (the walk of 2026-12-05 was refused for that).
  describe("deploys into one MBR partition, without /boot (manual partitioning)", () => {
    let one: Disk;
    let result: RunResult;
    let rootUuid: string;

    beforeAll(async () => {
      one = await makeOnePartitionDisk("one-partition.img", 6 * GIB);
      rootUuid = (await run(["blkid", "-p", "-o", "value", "-s", "UUID", one.root])).stdout.trim();
      result = await deploy(["--digest", fx.digest], { on: one, log: "/run/out/one.log" });
      if (result.exitCode !== 0) console.error(result.stderr);
    });

    it("succeeds", () => {
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(0);
    });

    it("keeps the kernels in the root's /boot, where the menu finds them (bootprefix)", async () => {
      const cfg = (await inTarget(["cat", "/run/target/boot/loader/grub.cfg"], { on: one })).stdout;
      expect(cfg).toContain(`search --no-floppy --fs-uuid --set=root ${rootUuid}`);
      expect(cfg).toMatch(
        new RegExp(
          `^\\s*linux /boot/ostree/${STATEROOT}-[0-9a-f]{64}/vmlinuz-\\S+ root=UUID=${rootUuid} `,
          "m",
        ),
      );
    });

    it("installs GRUB for BIOS into the MBR and the gap before the partition", async () => {
      const mbr = await readBytes(one.image, 0, 512);
      expect(mbr.subarray(0x180, 0x1b0).toString("latin1")).toContain("GRUB \0Geom\0Hard Disk");
      expect(mbr.readBigUInt64LE(0x5c)).toBe(1n); // core.img in the sectors after the MBR
      expect(mbr.readUInt16LE(510)).toBe(0xaa55);
    });
  });
});

// unpack-layer on its own, with small layers made here: the OCI rules the example image does
// not exercise (opaque directories, a file replaced by a directory, owners, capabilities) and
// the host-safety refusals.
describe("unpack-layer applies OCI layer semantics", async () => {
  const hasSetcap = await hasCommand("setcap");
  let work: string;
  let tree: string;
  let outside: string;

  async function layer(name: string, files: Record<string, string | { link: string }>) {
    const stage = join(work, `stage-${name}`);
    for (const [path, content] of Object.entries(files)) {
      const full = join(stage, path);
      await mkdir(dirname(full), { recursive: true });
      if (path.endsWith("/")) continue;
      if (typeof content === "string") await writeFile(full, content);
      else await symlink(content.link, full);
    }
    return stage;
  }
  async function tar(stage: string, gzip: boolean, members = ["."]): Promise<string> {
    const file = join(work, `${stage.split("/").at(-1)}.tar${gzip ? ".gz" : ""}`);
    await run([
      "tar",
      "--numeric-owner",
      "--xattrs",
      "--xattrs-include=*",
      gzip ? "-czf" : "-cf",
      file,
      "-C",
      stage,
      ...members,
    ]);
    return file;
  }
  const unpack = (type: string, blob: string) =>
    run([join(scripts, "unpack-layer"), tree, type, blob], { okExitCodes: [0, 2] });
  const GZ = "application/vnd.oci.image.layer.v1.tar+gzip";
  const TAR = "application/vnd.oci.image.layer.v1.tar";

  beforeAll(async () => {
    work = await mkdtemp("/var/tmp/atomiso-unpack-layer-");
    tree = join(work, "tree");
    outside = join(work, "outside");
    await mkdir(tree);
    await mkdir(outside);
    await writeFile(join(outside, "victim"), "must survive");
    const lower = await layer("lower", {
      "a/keep/x": "x",
      "a/gone": "gone",
      "a/opq/old": "old",
      "b/inner": "inner",
      c: "a file",
      "owned/file": "owned",
      "bin/ping": "ping",
      escape1: { link: outside },
      escape2: { link: outside },
    });
    await run(["chown", "-R", "1234:5678", join(lower, "owned")]);
    if (hasSetcap) await run(["setcap", "cap_net_raw+ep", join(lower, "bin/ping")]);
    // Like the first layer of a podman image: ./-prefixed names, gzip.
    expect((await unpack(GZ, await tar(lower, true))).exitCode).toBe(0);
  });

  afterAll(async () => {
    if (work) await safeRemove(work);
  });

  it("keeps numeric owners and file capabilities", async () => {
    const { stdout } = await run(["stat", "-c", "%u:%g", join(tree, "owned/file")]);
    expect(stdout.trim()).toBe("1234:5678");
    if (hasSetcap) {
      const caps = await run(["getcap", join(tree, "bin/ping")]);
      expect(caps.stdout).toContain("cap_net_raw=ep");
    }
  });

  it("deletes whiteouts, empties opaque directories and replaces what changes type", async () => {
    const upper = await layer("upper", {
      "a/.wh.gone": "",
      "a/opq/.wh..wh..opq": "",
      "a/opq/new": "new",
      "a/keep/y": "y",
      b: { link: "a" },
      "c/d": "d",
    });
    // Fractional mtimes of different widths: tar pads them in a verbose listing, which once
    // shifted the names that follow a wider one (and left b and c unreplaced).
    await run(["touch", "-h", "-d", "2026-01-01 00:00:00.123456789", join(upper, "a")]);
    await run(["touch", "-h", "-d", "2026-01-01 00:00:00.5", join(upper, "b"), join(upper, "c")]);
    // Plain tar, names without ./ (how podman writes the later layers).
    const r = await unpack(TAR, await tar(upper, false, ["a", "b", "c"]));
    expect(r.stderr, r.stdout).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/1 whiteout\(s\), 1 opaque dir\(s\), 2 replaced/);
    const ls = async (path: string) => (await readdir(join(tree, path))).sort();
    expect(await ls("a")).toEqual(["keep", "opq"]);
    expect(await ls("a/keep")).toEqual(["x", "y"]);
    expect(await ls("a/opq")).toEqual(["new"]);
    expect(await readlink(join(tree, "b"))).toBe("a");
    expect(await ls("c")).toEqual(["d"]);
  });

  it("refuses a layer that writes through a symlink, before writing anything", async () => {
    // Only the file, no entry for its directory (which would replace the symlink).
    const evil = await layer("evil", { "escape1/evil": "evil" });
    const r = await unpack(TAR, await tar(evil, false, ["escape1/evil"]));
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^atomiso-error: .* writes escape1\/evil through a symlink/m);
    expect(await readdir(outside)).toEqual(["victim"]);
  });

  it("refuses a whiteout that would delete through a symlink", async () => {
    const evil = await layer("evil-whiteout", { "escape2/.wh.victim": "" });
    const r = await unpack(TAR, await tar(evil, false, ["escape2/.wh.victim"]));
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^atomiso-error: .* removes escape2\/victim through a symlink/m);
    expect(await readFile(join(outside, "victim"), "utf8")).toBe("must survive");
  });
});
