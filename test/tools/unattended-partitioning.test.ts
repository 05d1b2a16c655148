// Every partitioning path of the unattended installer ([disk] mode free-space, shrink, replace,
// layout; btrfs subvolumes; a reused ESP) with the real tools on sparse disk images attached to
// loop devices. The disks look like what users have: a Windows-like GPT disk (an ESP holding
// EFI/Microsoft/Boot/bootmgfw.efi written with mtools, a Microsoft reserved partition, an NTFS
// partition made with mkntfs holding a file written with ntfscp), a disk full of ext4 or xfs.
// What must survive is compared byte for byte (sha256 of the files, read back with mcopy,
// ntfscat and debugfs), the ESP keeps its UUID (never formatted), ntfsfix -n finds the NTFS
// consistent, and every refusal leaves the image exactly as it was (sha256 of the whole image).
//
// `run` needs a real ostree deployment (the boot tier); here a stand-in backend (a script that
// records its argv and the root mount, then lays out a deployment-like tree as ostree-deploy
// would) lets run go on past the deploy: the /var/home subvolume mount, the first user's home
// landing in @home and the deployment's fstab line are then checked on the disk itself.
// Mounts happen only in private mount namespaces; loop devices are detached in afterAll.
import { createHash } from "node:crypto";
import { chmod, copyFile, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parse, stringify } from "smol-toml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InstallPlan } from "../../src/install/install-plan.js";
import { mountsUnder } from "../../src/mounts/mountinfo.js";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { hasCommand, type RunResult, run } from "../../src/tools/exec.js";
import { inPrivateMountNamespace } from "../../src/tools/namespace.js";
import { makeTinyLayout } from "../support/tiny-layout.js";

const repo = join(import.meta.dirname, "../..");
const INSTALLER = join(repo, "installer-scripts/install/atomiso-install");
const SCRIPTS = join(repo, "installer-scripts/deploy");
const PACKAGE_PATH = join(repo, "installer-scripts");
const ANSWER = join(repo, "test/fixtures/unattended/answer.toml");
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const MSR = "E3C9E316-0B5C-4DB8-817D-F92DF00215AE";
const BASIC_DATA = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7";
const BIOS_BOOT = "21686148-6449-6E6F-744E-656564454649";
const LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
const ROOT = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";
const TOOLS = ["mkntfs", "ntfscp", "ntfscat", "ntfsresize", "ntfsfix", "mcopy", "mmd", "btrfs"];
const HAVE_TOOLS = (await Promise.all(TOOLS.map((t) => hasCommand(t)))).every(Boolean);
const HAVE_XFS = await hasCommand("mkfs.xfs");

type Answer = Record<string, Record<string, unknown> | unknown[]>;
interface SfdiskPartition {
  node: string;
  start: number;
  size: number;
  type: string;
  uuid?: string;
}

const EXTENT_HASH = `
import hashlib, os, sys
h = hashlib.sha256()
fd = os.open(sys.argv[1], os.O_RDONLY)
end, pos = os.fstat(fd).st_size, 0
while pos < end:
    try:
        pos = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError:
        break
    stop = os.lseek(fd, pos, os.SEEK_HOLE)
    h.update(str(pos).encode())
    while pos < stop:
        chunk = os.pread(fd, min(stop - pos, 1 << 20), pos)
        h.update(chunk)
        pos += len(chunk)
print(h.hexdigest())
`;

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

describe.skipIf(!HAVE_TOOLS)("unattended installer: every partitioning path", () => {
  let work: string;
  let layout: string;
  let digest: string;
  const loops: string[] = [];
  const images = new Map<string, string>();
  const windowsFile = Buffer.from(`MZ fake boot manager ${"x".repeat(5000)}`);
  const userFile = Buffer.from(`a user's notes ${"y".repeat(70000)}`);

  async function makeDisk(name: string, size: number): Promise<string> {
    const image = join(work, `${name}.img`);
    await run(["truncate", "--size", String(size), image]);
    const loop = (await run(["losetup", "--find", "--show", image])).stdout.trim();
    loops.push(loop);
    images.set(loop, image);
    return loop;
  }

  /** sfdisk a table onto the loop device and make the kernel show its partitions. */
  async function partitionDisk(loop: string, script: string): Promise<void> {
    await run(["sfdisk", "--quiet", loop], { input: script });
    await run(["partx", "--add", loop], { okExitCodes: [0, 1] });
    await run(["partx", "--update", loop], { okExitCodes: [0, 1] });
  }

  /** A Windows-like disk: ESP (with bootmgfw.efi), MSR, NTFS (with a user file) of ntfsGiB. */
  async function windowsDisk(name: string, sizeGiB: number, ntfsGiB?: number): Promise<string> {
    const loop = await makeDisk(name, sizeGiB * GiB);
    const ntfsSize = ntfsGiB ? `size=${Math.round(ntfsGiB * 1024)}MiB, ` : "";
    await partitionDisk(
      loop,
      `label: gpt\nsize=100MiB, type=${ESP}, name="EFI system partition"\n` +
        `size=16MiB, type=${MSR}, name="Microsoft reserved partition"\n` +
        `${ntfsSize}type=${BASIC_DATA}, name="Basic data partition"\n`,
    );
    await run(["mkfs.fat", "-F", "32", "-n", "SYSTEM", `${loop}p1`]);
    await run(["mmd", "-i", `${loop}p1`, "::/EFI", "::/EFI/Microsoft", "::/EFI/Microsoft/Boot"]);
    const src = join(work, "bootmgfw.efi");
    await writeFile(src, windowsFile);
    await run(["mcopy", "-i", `${loop}p1`, src, "::/EFI/Microsoft/Boot/bootmgfw.efi"]);
    await run(["mkntfs", "-Q", "-q", "-L", "Windows", `${loop}p3`]);
    const notes = join(work, "notes.txt");
    await writeFile(notes, userFile);
    await run(["ntfscp", `${loop}p3`, notes, "/notes.txt"]);
    return loop;
  }

  async function espFile(loop: string): Promise<string> {
    const out = join(work, `esp-read-${Date.now()}`);
    await run(["mcopy", "-n", "-i", `${loop}p1`, "::/EFI/Microsoft/Boot/bootmgfw.efi", out]);
    return sha256(await readFile(out));
  }
  async function ntfsFile(dev: string): Promise<string> {
    // The file is ASCII text: the string stdout is its bytes.
    // --force: after ntfsresize the volume is marked for Windows' chkdsk, which ntfscat
    // otherwise refuses to read.
    const r = await run(["ntfscat", "--force", dev, "/notes.txt"]);
    return sha256(r.stdout);
  }

  async function table(loop: string): Promise<SfdiskPartition[]> {
    const { stdout } = await run(["sfdisk", "--json", loop]);
    return JSON.parse(stdout).partitiontable.partitions;
  }
  async function blkid(dev: string, tag: string): Promise<string> {
    const r = await run(["blkid", "-p", "-o", "value", "-s", tag, dev], { okExitCodes: [0, 2] });
    return r.stdout.trim();
  }
  /** sha256 over the image's data extents and their offsets (SEEK_DATA/SEEK_HOLE): any
   *  write, even of zeros, changes it, without reading gigabytes of holes. */
  async function imageHash(loop: string): Promise<string> {
    const r = await run(["python3", "-c", EXTENT_HASH, images.get(loop) ?? ""]);
    return r.stdout.trim();
  }

  function plan(): InstallPlan {
    return {
      version: 1,
      product: { name: "ParticleOS", id: "particleos", version: "0.1.0" },
      backend: "ostree",
      image: {
        reference: "registry.example.org/particleos/system:0.1.0",
        digest,
        pinned: `registry.example.org/particleos/system@${digest}`,
        size: 4096,
        unpackedSize: 8192,
        autoUpdate: false,
      },
      payload: { mode: "embedded", layout },
      ostree: { stateroot: "particleos", ref: "atomiso/particleos" },
      kargs: ["console=ttyS0,115200"],
      layout: {
        table: "gpt",
        biosBootMiB: 1,
        efiMiB: 100,
        bootMiB: 256,
        rootMinGiB: 1,
        filesystem: "ext4",
        filesystems: ["ext4", "xfs", "btrfs"],
        encryption: false,
      },
      users: { groups: ["users", "plugdev"], sudoGroup: "sudo", shell: "/bin/bash" },
      requirements: { storageGiB: 2, ramGiB: 1 },
      scripts: SCRIPTS,
    };
  }

  let n = 0;
  /** The fixture answer with [disk] replaced by `disk` (device added). */
  async function files(
    device: string,
    disk: Record<string, unknown>,
    o: { scripts?: string } = {},
  ): Promise<{ answer: string; plan: string }> {
    const base = parse(await readFile(ANSWER, "utf8")) as Answer;
    const merged: Answer = { ...base, disk: { device, ...disk } };
    n++;
    const answer = join(work, `answer-${n}.toml`);
    const planFile = join(work, `plan-${n}.json`);
    await writeFile(answer, stringify(merged));
    await writeFile(
      planFile,
      JSON.stringify({ ...plan(), scripts: o.scripts ?? SCRIPTS }, null, 2),
    );
    return { answer, plan: planFile };
  }

  function installer(
    cmd: string,
    f: { answer: string; plan: string },
    firmware: "bios" | "efi" = "efi",
    env: Record<string, string> = {},
  ): Promise<RunResult> {
    return run([INSTALLER, cmd, "--answer", f.answer, "--plan", f.plan], {
      okExitCodes: [0, 1, 2],
      timeoutMs: 300_000,
      env: {
        ATOMISO_RUN_DIR: join(work, "run"),
        ATOMISO_FIRMWARE: firmware,
        PYTHONPATH: PACKAGE_PATH,
        ...env,
      },
    });
  }

  const rows = (stdout: string) =>
    stdout
      .split("\n")
      .filter((l) => l.startsWith("partition "))
      .map((l) => l.split(" ").slice(1));
  const lastError = (r: RunResult) => r.stderr.trim().split("\n").at(-1) ?? "";

  /** Runs sh -c SCRIPT with the loop's partition device as $1 in a private mount namespace. */
  async function inNamespace(script: string, ...args: string[]): Promise<string> {
    const r = await run(inPrivateMountNamespace(["sh", "-euc", script, "sh", ...args]));
    return r.stdout;
  }

  beforeAll(async () => {
    work = await mkdtemp("/var/tmp/atomiso-partitioning-");
    layout = join(work, "payload");
    digest = await makeTinyLayout(layout, work, {
      "etc/passwd": "root:x:0:0:root:/root:/bin/bash\n",
      "etc/group": "root:x:0:\n",
      "usr/share/zoneinfo/Europe/Berlin": await readFile("/usr/share/zoneinfo/Europe/Berlin"),
    });
  });

  afterAll(async () => {
    for (const loop of loops.reverse()) {
      await run(["partx", "--delete", loop], { okExitCodes: [0, 1] });
      await run(["losetup", "--detach", loop], { okExitCodes: [0, 1] });
    }
    if (work) {
      expect(await mountsUnder(work)).toEqual([]);
      await safeRemove(work);
    }
  });

  it("free-space beside Windows: ESP reused unformatted, MSR and NTFS untouched, no wipe consent needed", async () => {
    const loop = await windowsDisk("free", 6, 2);
    const before = await table(loop);
    const espUuid = await blkid(`${loop}p1`, "UUID");
    const ntfsBefore = await ntfsFile(`${loop}p3`);
    const f = await files(loop, { mode: "free-space" });
    const check = await installer("check", f);
    expect(check.stderr).toBe("");
    expect(check.stdout).toContain(
      "its partitions are kept; new partitions in its largest free space",
    );
    expect(check.stdout).toMatch(/p1 esp kept type .* vfat, not formatted at \/boot\/efi/);
    const r = await installer("partition", f);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    const got = rows(r.stdout);
    expect(got.map((x) => [x[0], x[1], x[3], x[5] ?? ""])).toEqual([
      ["1", "esp", "vfat", "kept"],
      ["4", "bios-boot", "-", ""],
      ["5", "boot", "ext4", ""],
      ["6", "root", "ext4", ""],
    ]);
    expect(got[0]?.[4]).toBe(espUuid);
    const after = await table(loop);
    expect(after.slice(0, 3)).toEqual(before);
    expect(after.slice(3).map((p) => p.type)).toEqual([BIOS_BOOT, LINUX, ROOT]);
    const end = (before[2]?.start ?? 0) + (before[2]?.size ?? 0);
    expect(after[3]?.start).toBe(Math.ceil(end / 2048) * 2048);
    expect(await blkid(`${loop}p1`, "UUID")).toBe(espUuid);
    expect(await espFile(loop)).toBe(sha256(windowsFile));
    expect(await ntfsFile(`${loop}p3`)).toBe(ntfsBefore);
    expect(ntfsBefore).toBe(sha256(userFile));
    await run(["ntfsfix", "-n", `${loop}p3`]);
    expect(await blkid(`${loop}p6`, "TYPE")).toBe("ext4");
  }, 120_000);

  it("shrink NTFS by 3 GiB (ntfsresize), then install into the freed space", async () => {
    const loop = await windowsDisk("shrink-ntfs", 6);
    const before = await table(loop);
    const f = await files(loop, {
      mode: "shrink",
      shrink_partition: `${loop}p3`,
      shrink_by_gib: 3,
    });
    const r = await installer("partition", f);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`shrinking the ntfs file system on ${loop}p3`);
    const after = await table(loop);
    const ntfs = after[2];
    expect(ntfs?.start).toBe(before[2]?.start);
    expect((before[2]?.size ?? 0) - (ntfs?.size ?? 0)).toBeGreaterThanOrEqual((3 * GiB) / 512);
    expect((before[2]?.size ?? 0) - (ntfs?.size ?? 0)).toBeLessThan((3 * GiB + MiB) / 512);
    expect(after[3]?.start).toBe((ntfs?.start ?? 0) + (ntfs?.size ?? 0));
    expect(after.map((p) => p.type)).toEqual([ESP, MSR, BASIC_DATA, BIOS_BOOT, LINUX, ROOT]);
    // The file system fits its smaller partition, is consistent and still has the file.
    const info = await run(["ntfsresize", "--info", "--force", `${loop}p3`], {
      okExitCodes: [0, 1],
    });
    const volume = Number(/Current volume size: (\d+) bytes/.exec(info.stdout)?.[1]);
    expect(volume).toBeLessThanOrEqual((ntfs?.size ?? 0) * 512);
    expect(volume).toBeGreaterThan((ntfs?.size ?? 0) * 512 - 8 * MiB);
    await run(["ntfsfix", "-n", `${loop}p3`]);
    expect(await ntfsFile(`${loop}p3`)).toBe(sha256(userFile));
    expect(await espFile(loop)).toBe(sha256(windowsFile));
  }, 180_000);

  it("shrink ext4 (e2fsck, resize2fs) on BIOS: the file on it survives", async () => {
    const loop = await makeDisk("shrink-ext4", 5 * GiB);
    await partitionDisk(loop, `label: gpt\ntype=${LINUX}, name="data"\n`);
    await run(["mkfs.ext4", "-q", "-L", "data", `${loop}p1`]);
    const src = join(work, "ext-notes.txt");
    await writeFile(src, userFile);
    await run(["debugfs", "-w", "-R", `write ${src} notes.txt`, `${loop}p1`]);
    const f = await files(loop, {
      mode: "shrink",
      shrink_partition: `${loop}p1`,
      shrink_by_gib: 3,
    });
    const r = await installer("partition", f, "bios");
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(rows(r.stdout).map((x) => x[1])).toEqual(["bios-boot", "boot", "root"]);
    const after = await table(loop);
    expect(after.map((p) => p.type)).toEqual([LINUX, BIOS_BOOT, LINUX, ROOT]);
    await run(["e2fsck", "-f", "-n", `${loop}p1`]);
    const blocks = await run(["dumpe2fs", "-h", `${loop}p1`], { okExitCodes: [0] });
    const count = Number(/^Block count:\s+(\d+)/m.exec(blocks.stdout)?.[1]);
    const size = Number(/^Block size:\s+(\d+)/m.exec(blocks.stdout)?.[1]);
    expect(count * size).toBeLessThanOrEqual((after[0]?.size ?? 0) * 512);
    const cat = await run(["debugfs", "-R", "cat notes.txt", `${loop}p1`]);
    expect(sha256(cat.stdout)).toBe(sha256(userFile));
  }, 120_000);

  it("shrink btrfs (mounted in the installer's namespace); no /boot, a separate /var/home", async () => {
    const loop = await makeDisk("shrink-btrfs", 6 * GiB);
    await partitionDisk(loop, `label: gpt\ntype=${LINUX}, name="data"\n`);
    await run(["mkfs.btrfs", "-q", "-f", "-L", "data", `${loop}p1`]);
    await inNamespace(
      'm=$(mktemp -d); mount "$1" "$m"; printf "%s" "$2" >"$m/notes.txt"; umount "$m"; rmdir "$m"',
      `${loop}p1`,
      "btrfs notes",
    );
    const f = await files(loop, {
      mode: "shrink",
      shrink_partition: `${loop}p1`,
      shrink_by_gib: 3,
      boot_partition: false,
      home_gib: 0.5,
      filesystem: "xfs",
    });
    const r = await installer("partition", f, "bios");
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(rows(r.stdout).map((x) => [x[0], x[1], x[3]])).toEqual([
      ["2", "bios-boot", "-"],
      ["3", "root", "xfs"],
      ["4", "home", "xfs"],
    ]);
    const after = await table(loop);
    expect(after[3]?.size).toBe((512 * MiB) / 512);
    const out = await inNamespace(
      'm=$(mktemp -d); mount -o ro "$1" "$m"; cat "$m/notes.txt"; echo; btrfs filesystem show --raw "$m" | grep -o "size [0-9]*" | head -n 1; umount "$m"; rmdir "$m"',
      `${loop}p1`,
    );
    const [notes, size] = out.trim().split("\n");
    expect(notes).toBe("btrfs notes");
    expect(Number(size?.split(" ")[1])).toBeLessThanOrEqual((after[0]?.size ?? 0) * 512);
    expect(Number(size?.split(" ")[1])).toBeGreaterThan((after[0]?.size ?? 0) * 512 - 2 * MiB);
  }, 120_000);

  it("free-space on an MBR disk (BIOS): primary partitions of type 83 beside NTFS", async () => {
    const loop = await makeDisk("mbr", 5 * GiB);
    await partitionDisk(loop, "label: dos\nsize=2GiB, type=7, bootable\n");
    await run(["mkntfs", "-Q", "-q", `${loop}p1`]);
    const notes = join(work, "mbr-notes.txt");
    await writeFile(notes, userFile);
    await run(["ntfscp", `${loop}p1`, notes, "/notes.txt"]);
    const r = await installer("partition", await files(loop, { mode: "free-space" }), "bios");
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    const after = await table(loop);
    expect(after.map((p) => p.type)).toEqual(["7", "83", "83"]);
    expect(rows(r.stdout).map((x) => [x[0], x[1], x[3]])).toEqual([
      ["2", "boot", "ext4"],
      ["3", "root", "ext4"],
    ]);
    expect(await ntfsFile(`${loop}p1`)).toBe(sha256(userFile));
    expect(await blkid(`${loop}p3`, "TYPE")).toBe("ext4");
  }, 120_000);

  it("replace the NTFS partition: needs wipe = true, then only it is gone", async () => {
    const loop = await windowsDisk("replace", 5, 3);
    const image = await imageHash(loop);
    const espUuid = await blkid(`${loop}p1`, "UUID");
    const before = await table(loop);
    const refused = await installer(
      "partition",
      await files(loop, { mode: "replace", replace_partition: `${loop}p3` }),
    );
    expect(refused.exitCode).toBe(1);
    expect(lastError(refused)).toMatch(
      new RegExp(
        `^atomiso-error: disk\\.wipe: mode = "replace" deletes ${loop}p3 .*add wipe = true.*nothing was written`,
      ),
    );
    expect(await imageHash(loop)).toBe(image);
    const r = await installer(
      "partition",
      await files(loop, {
        mode: "replace",
        replace_partition: `${loop}p3`,
        wipe: true,
        filesystem: "btrfs",
      }),
    );
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`deleting partition 3 (${loop}p3, ntfs)`);
    const after = await table(loop);
    expect(after.slice(0, 2)).toEqual(before.slice(0, 2));
    expect(after.slice(2).map((p) => p.type)).toEqual([BIOS_BOOT, LINUX, ROOT]);
    expect(after[2]?.start).toBe(before[2]?.start);
    expect(await blkid(`${loop}p1`, "UUID")).toBe(espUuid);
    expect(await espFile(loop)).toBe(sha256(windowsFile));
    expect(await blkid(`${loop}p5`, "TYPE")).toBe("btrfs");
  }, 120_000);

  it("layout with btrfs subvolumes: /boot 0.5 GiB, / btrfs holding @, @home, @snapshots", async () => {
    const loop = await windowsDisk("layout", 4, 1);
    const f = await files(loop, {
      mode: "layout",
      wipe: true,
      btrfs_subvolumes: true,
      partitions: [
        { mount: "/boot", filesystem: "ext4", size_gib: 0.5 },
        { mount: "/", filesystem: "btrfs" },
      ],
    });
    const r = await installer("partition", f);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(rows(r.stdout).map((x) => x.slice(0, 4))).toEqual([
      ["1", "esp", `${loop}p1`, "vfat"],
      ["2", "bios-boot", `${loop}p2`, "-"],
      ["3", "boot", `${loop}p3`, "ext4"],
      ["4", "root", `${loop}p4`, "btrfs"],
    ]);
    expect((await table(loop)).map((p) => p.size).slice(0, 3)).toEqual([
      (100 * MiB) / 512,
      MiB / 512,
      (512 * MiB) / 512,
    ]);
    const list = await inNamespace(
      'm=$(mktemp -d); mount "$1" "$m"; btrfs subvolume list "$m"; umount "$m"; rmdir "$m"',
      `${loop}p4`,
    );
    expect(
      list
        .trim()
        .split("\n")
        .map((l) => l.split(" ").at(-1)),
    ).toEqual(["@", "@home", "@snapshots"]);
  }, 120_000);

  describe("refuses before the first write, naming the key", () => {
    async function refused(
      loop: string,
      disk: Record<string, unknown>,
      firmware: "bios" | "efi" = "efi",
    ): Promise<string> {
      const image = await imageHash(loop);
      const r = await installer("partition", await files(loop, disk), firmware);
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      expect(await imageHash(loop)).toBe(image);
      expect(lastError(r)).toMatch(/\(nothing was written to any disk\)$/);
      return lastError(r);
    }

    it("free-space on a full disk, on a disk without a partition table", async () => {
      const full = await windowsDisk("full", 3);
      expect(await refused(full, { mode: "free-space" })).toMatch(
        /^atomiso-error: disk\.mode: the disk has no unpartitioned space; shrink a partition/,
      );
      const blank = await makeDisk("blank", 3 * GiB);
      expect(await refused(blank, { mode: "free-space" })).toMatch(
        /^atomiso-error: disk\.mode: .* has no partition table .*use mode = "erase"/,
      );
    });

    it("free space smaller than the installation needs; shrinking further than NTFS allows", async () => {
      const small = await windowsDisk("small", 4, 2.5);
      expect(await refused(small, { mode: "free-space" })).toMatch(
        /^atomiso-error: disk\.mode: the free space is 1\.4 GiB, the installation needs 2\.0 GiB/,
      );
      // 10 MiB is less than the NTFS already uses: ntfsresize --no-action says so.
      expect(
        await refused(small, {
          mode: "shrink",
          shrink_partition: `${small}p3`,
          shrink_by_gib: 2.49,
        }),
      ).toMatch(/^atomiso-error: disk\.shrink_by_gib: ntfsresize cannot shrink .*p3 to 0\.0 GiB/);
    }, 180_000);

    it.skipIf(!HAVE_XFS)(
      "shrinking xfs; shrinking or replacing the ESP; a partition of another disk",
      async () => {
        const loop = await makeDisk("xfs", 4 * GiB);
        await partitionDisk(loop, `label: gpt\nsize=100MiB, type=${ESP}\ntype=${LINUX}\n`);
        await run(["mkfs.fat", "-F", "32", `${loop}p1`]);
        await run(["mkfs.xfs", "-q", `${loop}p2`]);
        expect(
          await refused(loop, { mode: "shrink", shrink_partition: `${loop}p2`, shrink_by_gib: 1 }),
        ).toMatch(
          /^atomiso-error: disk\.shrink_partition: .*p2 is xfs, which cannot be made smaller/,
        );
        expect(
          await refused(loop, { mode: "shrink", shrink_partition: `${loop}p1`, shrink_by_gib: 1 }),
        ).toMatch(/^atomiso-error: disk\.shrink_partition: .*p1 is the EFI system partition/);
        expect(
          await refused(loop, { mode: "replace", replace_partition: `${loop}p1`, wipe: true }),
        ).toMatch(/^atomiso-error: disk\.replace_partition: .*p1 is the EFI system partition/);
        expect(
          await refused(loop, { mode: "replace", replace_partition: "/dev/null", wipe: true }),
        ).toMatch(/^atomiso-error: disk\.replace_partition: \/dev\/null is not a partition of/);
      },
    );

    it("fixed sizes that do not leave enough for the rest: home_gib, [[disk.partitions]]", async () => {
      const loop = await makeDisk("too-big", 3 * GiB);
      expect(await refused(loop, { wipe: true, home_gib: 2 })).toMatch(
        /^atomiso-error: disk\.home_gib: the fixed sizes add up to 2\.3 GiB .* leaves 0\.6 GiB for \/ .* at least 1\.0 GiB/,
      );
      const partitions = [
        { mount: "/", filesystem: "ext4", size_gib: 3.5 },
        { mount: "/var/home", filesystem: "ext4" },
      ];
      expect(await refused(loop, { mode: "layout", wipe: true, partitions })).toMatch(
        /^atomiso-error: disk\.partitions: the fixed sizes add up to 3\.6 GiB .* leaves 0\.0 GiB for \/var\/home/,
      );
    });

    it("an existing ESP too full for the boot loader", async () => {
      const loop = await makeDisk("esp-full", 4 * GiB);
      await partitionDisk(
        loop,
        `label: gpt\nsize=40MiB, type=${ESP}\nsize=1GiB, type=${BASIC_DATA}\n`,
      );
      await run(["mkfs.fat", "-F", "16", `${loop}p1`]);
      const filler = join(work, "filler.bin");
      await writeFile(filler, Buffer.alloc(30 * MiB, 1));
      await run(["mcopy", "-i", `${loop}p1`, filler, "::/filler.bin"]);
      expect(await refused(loop, { mode: "free-space" })).toMatch(
        /^atomiso-error: disk\.mode: the EFI system partition .*p1 has \d+\.\d MiB free, the boot loader needs 16 MiB/,
      );
      // On BIOS the ESP is not used: the same disk is fine.
      const r = await installer("check", await files(loop, { mode: "free-space" }), "bios");
      expect(r.exitCode, r.stderr).toBe(0);
    });

    it("answer-file rules: every key named, all in one pass (exit 2)", async () => {
      const loop = await makeDisk("rules", 3 * GiB);
      const image = await imageHash(loop);
      const cases: [Record<string, unknown>, RegExp[]][] = [
        [{ mode: "alongside" }, [/disk\.mode: "alongside" is not a partitioning mode/]],
        [
          { mode: "shrink" },
          [/disk\.shrink_partition: missing \(mode = "shrink"\)/, /disk\.shrink_by_gib: missing/],
        ],
        [
          { mode: "free-space", replace_partition: "/dev/vda3", shrink_by_gib: -1 },
          [
            /disk\.replace_partition: is given but mode is "free-space"/,
            /disk\.shrink_by_gib: must be a positive number/,
          ],
        ],
        [
          { btrfs_subvolumes: true, wipe: true },
          [/disk\.btrfs_subvolumes: needs filesystem = "btrfs"/],
        ],
        [
          {
            filesystem: "btrfs",
            btrfs_subvolumes: true,
            boot_partition: false,
            home_gib: 2,
            wipe: true,
          },
          [
            /disk\.boot_partition: btrfs_subvolumes keeps a separate \/boot/,
            /disk\.home_gib: btrfs_subvolumes already puts/,
          ],
        ],
        [{ mode: "layout", wipe: true }, [/disk\.partitions: missing \(mode = "layout"\)/]],
        [
          {
            mode: "layout",
            wipe: true,
            filesystem: "ext4",
            partitions: [
              { mount: "/boot" },
              { mount: "/home", size_gib: 2 },
              { mount: "/boot", filesystem: "zfs", size_gib: 0 },
            ],
          },
          [
            /disk\.filesystem: is given but mode is "layout"/,
            /disk\.partitions\[1\]\.mount: '\/home' is not a mount point/,
            /disk\.partitions\[2\]\.mount: \/boot is given twice/,
            /disk\.partitions\[2\]\.filesystem: 'zfs' is not offered/,
            /disk\.partitions\[2\]\.size_gib: must be a positive number/,
          ],
        ],
      ];
      for (const [disk, patterns] of cases) {
        const f = await files(loop, disk);
        const r = await installer("check", f);
        expect(r.exitCode, JSON.stringify(disk) + r.stderr).toBe(2);
        for (const p of patterns)
          expect(r.stderr, JSON.stringify(disk)).toMatch(new RegExp(`${f.answer}: ${p.source}`));
      }
      expect(await imageHash(loop)).toBe(image);
    });
  });

  describe("run with a stand-in backend", () => {
    const scripts = () => join(work, "stand-in-scripts");
    const record = () => join(work, "backend-record");
    beforeAll(async () => {
      // verify-payload is the real one; ostree-deploy is replaced by a script that records
      // what it was given and lays out a deployment as ostree-deploy would.
      await mkdir(scripts());
      await copyFile(join(SCRIPTS, "verify-payload"), join(scripts(), "verify-payload"));
      await chmod(join(scripts(), "verify-payload"), 0o755);
      await writeFile(
        join(scripts(), "ostree-deploy"),
        [
          "#!/bin/bash",
          "set -eu",
          'printf "%s\\n" "$@" >"$ATOMISO_TEST_RECORD.argv"',
          "root=",
          'while [ $# -gt 0 ]; do if [ "$1" = --root ]; then root=$2; fi; shift; done',
          'findmnt -n --nofsroot -o SOURCE,FSROOT --mountpoint "$root" >"$ATOMISO_TEST_RECORD.root"',
          "d=$root/ostree/deploy/particleos/deploy/0123abcd.0",
          'mkdir -p "$d/etc" "$d/usr/bin" "$d/usr/share/zoneinfo/Europe" "$d/var" "$root/ostree/deploy/particleos/var"',
          'ln -s usr/bin "$d/bin"; ln -s var/home "$d/home"',
          'install -m 0755 /dev/null "$d/usr/bin/bash"',
          'cp /usr/share/zoneinfo/Europe/Berlin "$d/usr/share/zoneinfo/Europe/Berlin"',
          "printf 'root:x:0:0:root:/root:/bin/bash\\n' >\"$d/etc/passwd\"",
          "printf 'root:*:19000:0:99999:7:::\\n' >\"$d/etc/shadow\"",
          "printf 'root:x:0:\\nusers:x:100:\\n' >\"$d/etc/group\"",
          "printf 'root:*::\\nusers:*::\\n' >\"$d/etc/gshadow\"",
          "printf '# Written by the stand-in backend\\n' >\"$d/etc/fstab\"",
          "echo 'atomiso-progress 50 stand-in deploy'",
        ].join("\n"),
        { mode: 0o755 },
      );
    });

    it("btrfs subvolumes: / on @ (rootflags=subvol=@), the user's home in @home, /var/home in fstab", async () => {
      const loop = await makeDisk("run-btrfs", 4 * GiB);
      const f = await files(
        loop,
        { wipe: true, filesystem: "btrfs", btrfs_subvolumes: true },
        { scripts: scripts() },
      );
      const r = await installer("run", f, "bios", { ATOMISO_TEST_RECORD: record() });
      expect(r.stderr).toBe("");
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/^atomiso-install: \/var\/home: \/dev\/loop\d+p3 subvolume @home$/m);
      const argv = (await readFile(`${record()}.argv`, "utf8")).split("\n");
      expect(argv.filter((_a, i) => argv[i - 1] === "--karg")).toEqual([
        "console=ttyS0,115200",
        "quiet",
        "rootflags=subvol=@",
      ]);
      expect((await readFile(`${record()}.root`, "utf8")).trim()).toMatch(
        /^\/dev\/loop\d+p3\s+\/@$/,
      );
      expect(await mountsUnder(work)).toEqual([]);
      const uuid = await blkid(`${loop}p3`, "UUID");
      // On the disk: the home directory is in @home, the deployment's fstab mounts it.
      const out = await inNamespace(
        'm=$(mktemp -d); mount "$1" "$m"; ls "$m/@home"; echo ---; ls -A "$m/@/ostree/deploy/particleos/var/home"; echo ---; cat "$m/@/ostree/deploy/particleos/deploy/0123abcd.0/etc/fstab"; umount "$m"; rmdir "$m"',
        `${loop}p3`,
      );
      const [home, varHome, fstab] = out.split("---\n");
      expect(home?.trim()).toBe("alice");
      expect(varHome?.trim()).toBe("");
      expect(fstab).toContain(`UUID=${uuid}\t/var/home\tbtrfs\tsubvol=@home,defaults\t0\t0\n`);
    }, 180_000);

    // BIOS: this host's kernel has no vfat, so the reused ESP cannot be mounted here (the UEFI
    // install beside Windows is the boot tier's).
    it("free-space with home_gib and no /boot (BIOS): the home partition in fstab", async () => {
      const loop = await windowsDisk("run-home", 6, 2);
      const f = await files(
        loop,
        { mode: "free-space", boot_partition: false, home_gib: 0.5 },
        { scripts: scripts() },
      );
      const r = await installer("run", f, "bios", { ATOMISO_TEST_RECORD: record() });
      expect(r.stderr).toBe("");
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/^atomiso-install: \/var\/home: \/dev\/loop\d+p6$/m);
      expect(r.stdout).toMatch(
        /^atomiso-install: installed ParticleOS 0\.1\.0 .* to \/dev\/loop\d+ in/m,
      );
      expect(await mountsUnder(work)).toEqual([]);
      expect(rows(r.stdout.replaceAll("atomiso-install: ", "")).map((x) => x.slice(0, 2))).toEqual([
        ["4", "bios-boot"],
        ["5", "root"],
        ["6", "home"],
      ]);
      const home = await blkid(`${loop}p6`, "UUID");
      const out = await inNamespace(
        'm=$(mktemp -d); mount "$1" "$m"; ls "$m"; echo ---; ls -A "$m/ostree/deploy/particleos/var/home"; echo ---; cat "$m/ostree/deploy/particleos/deploy/0123abcd.0/etc/fstab"; umount "$m"; mount "$2" "$m"; echo ---; ls "$m"; umount "$m"; rmdir "$m"',
        `${loop}p5`,
        `${loop}p6`,
      );
      const [rootTop, varHome, fstab, homeTop] = out.split("---\n");
      expect(rootTop?.split("\n")).toContain("ostree");
      expect(varHome?.trim()).toBe("");
      expect(fstab).toContain(`UUID=${home}\t/var/home\text4\tdefaults\t0\t2\n`);
      expect(homeTop?.trim().split("\n")).toEqual(["alice", "lost+found"]);
      // The Windows side is as it was.
      expect(await espFile(loop)).toBe(sha256(windowsFile));
      expect(await ntfsFile(`${loop}p3`)).toBe(sha256(userFile));
    }, 180_000);
  });
});
