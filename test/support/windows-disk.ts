// A raw disk image laid out like a Windows laptop's, for the dual-boot tests: GPT with a
// 100 MiB EFI system partition (FAT32: EFI/Microsoft/Boot/bootmgfw.efi and BCD, and Windows'
// fallback copy EFI/BOOT/BOOTX64.EFI), a 16 MiB Microsoft reserved partition and an NTFS
// partition (bootmgr, Boot/BCD, Windows/System32/ntoskrnl.exe, a user's thesis), either filling
// the disk (Calamares' "Install alongside" shrinks it) or of a given size with free space after
// it (the unattended "free-space" mode). The image is sparse. Every file's SHA-256 is recorded;
// verifyWindowsDisk reads them back (mcopy, ntfscat: nothing is mounted) and runs
// `ntfsfix -n`, so a test can show that an install beside Windows left it intact.
// Host tools (Debian): fdisk (sfdisk), dosfstools (mkfs.fat), mtools, ntfs-3g, mount (losetup),
// util-linux (unshare). Root is needed for loop devices and the ntfs-3g mount that fills NTFS.
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, open, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  addBootEntry,
  diskFileDevicePath,
  type GptPartitionRef,
  LOAD_OPTION_ACTIVE,
  type LoadOption,
  readVarStore,
  writeVarStore,
} from "../../src/qemu/ovmf-vars.js";
import { run } from "../../src/tools/exec.js";
import { inPrivateMountNamespace } from "../../src/tools/namespace.js";

export const ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
export const MSR_TYPE = "E3C9E316-0B5C-4DB8-817D-F92DF00215AE";
export const BASIC_DATA_TYPE = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7";
export const WINDOWS_LOADER = "\\EFI\\Microsoft\\Boot\\bootmgfw.efi";
export const WINDOWS_BOOT_MANAGER = "Windows Boot Manager";
/** The user's file a test may change to see verifyWindowsDisk notice. */
export const THESIS = "Users/ada/Documents/thesis.txt";

const MIB = 1024 * 1024;
const ESP_MIB = 100;
const MSR_MIB = 16;

export interface WindowsDiskOptions {
  /** Whole disk, GiB (sparse). Default 24, like the issue's laptop. */
  sizeGiB?: number;
  /** NTFS size in GiB, leaving the rest of the disk unpartitioned; omit to fill the disk. */
  ntfsGiB?: number;
}

export interface RecordedFile {
  where: "esp" | "ntfs";
  /** Path inside that file system, "/"-separated, no leading slash. */
  path: string;
  sha256: string;
}

export interface RecordedPartition extends GptPartitionRef {
  type: string;
}

export interface WindowsDiskRecord {
  image: string;
  sizeBytes: number;
  sectorSize: number;
  esp: RecordedPartition;
  msr: RecordedPartition;
  ntfs: RecordedPartition;
  files: RecordedFile[];
}

interface SfdiskPartition {
  node: string;
  start: number;
  size: number;
  type: string;
  uuid: string;
}

/** The GPT as sfdisk reads it (works on an image file). */
export async function readGpt(
  image: string,
): Promise<{ sectorSize: number; partitions: (SfdiskPartition & { number: number })[] }> {
  const { stdout } = await run(["sfdisk", "--json", image]);
  const table = (
    JSON.parse(stdout) as {
      partitiontable: { label: string; sectorsize?: number; partitions?: SfdiskPartition[] };
    }
  ).partitiontable;
  if (table.label !== "gpt") throw new Error(`${image} has a ${table.label} label, not GPT`);
  return {
    sectorSize: table.sectorsize ?? 512,
    partitions: (table.partitions ?? []).map((p) => ({
      ...p,
      number: Number(/(\d+)$/.exec(p.node)?.[1]),
    })),
  };
}

/**
 * A sparse file of `bytes` at `path` with a GPT made by sfdisk from `partitions` (one sfdisk
 * line each, first partition at sector 2048), and every partition as recorded; throws when
 * sfdisk made fewer.
 */
export async function partitionedImage(
  path: string,
  bytes: number,
  partitions: string[],
): Promise<{ sectorSize: number; recorded: RecordedPartition[] }> {
  const fh = await open(path, "w");
  await fh.truncate(bytes);
  await fh.close();
  const script = ["label: gpt", "first-lba: 2048", ...partitions, ""].join("\n");
  await run(["sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", path], { input: script });
  const gpt = await readGpt(path);
  if (gpt.partitions.length !== partitions.length)
    throw new Error(`sfdisk made ${gpt.partitions.length} partitions, not ${partitions.length}`);
  return {
    sectorSize: gpt.sectorSize,
    recorded: gpt.partitions.map((p) => ({
      number: p.number,
      startLba: p.start,
      sizeLba: p.size,
      partitionGuid: p.uuid.toLowerCase(),
      type: p.type.toUpperCase(),
    })),
  };
}

/**
 * The partition that starts where `want` started (an install beside it may shrink it but never
 * moves it), with a sentence in `differences` for each way it is gone or changed: missing,
 * another type, another partition GUID. Its size is the caller's to compare.
 */
export function findRecordedPartition(
  gpt: Awaited<ReturnType<typeof readGpt>>,
  want: RecordedPartition,
  what: string,
  differences: string[],
): GptPartitionRef | undefined {
  const p = gpt.partitions.find((x) => x.start === want.startLba);
  if (!p) {
    differences.push(`no partition starts at sector ${want.startLba} any more (the ${what})`);
    return undefined;
  }
  if (p.type.toUpperCase() !== want.type) {
    differences.push(`the ${what} at sector ${want.startLba} has type ${p.type}, not ${want.type}`);
  }
  if (p.uuid.toLowerCase() !== want.partitionGuid) {
    differences.push(`the ${what}'s partition GUID changed (${p.uuid}, was ${want.partitionGuid})`);
  }
  return { number: p.number, startLba: p.start, sizeLba: p.size, partitionGuid: p.uuid };
}

/** Deterministic filler: the same name always gives the same bytes. */
function filler(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let off = 0, i = 0; off < size; off += 32, i++) {
    createHash("sha256").update(`${seed}:${i}`).digest().copy(out, off);
  }
  return out;
}

/**
 * Bytes with the headers of an x86-64 EFI application (PE32+): "MZ", e_lfanew, "PE\0\0", the
 * COFF machine, the optional header's magic and subsystem 10. OVMF's boot manager keeps a disk
 * entry only when it can read a file with such headers behind it (QemuBootOrderLib expands the
 * short HD() path by loading the file); with looser bytes it deletes Windows Boot Manager.
 */
function peLike(seed: string, size = 16 * 1024): Buffer {
  const b = filler(seed, size);
  const pe = 0x80;
  b.write("MZ", 0, "latin1");
  b.writeUInt32LE(pe, 0x3c);
  b.write("PE\0\0", pe, "latin1");
  b.writeUInt16LE(0x8664, pe + 4); // IMAGE_FILE_MACHINE_AMD64
  b.writeUInt16LE(240, pe + 20); // SizeOfOptionalHeader (PE32+)
  const optional = pe + 24;
  b.writeUInt16LE(0x20b, optional); // PE32+
  b.writeUInt16LE(10, optional + 68); // Subsystem: EFI application
  return b;
}

/** A stand-in for a BCD store: a registry hive header and the Windows 10 description
 *  os-prober's 20microsoft greps for (UTF-16). */
function bcdLike(seed: string): Buffer {
  return Buffer.concat([
    Buffer.from("regf", "latin1"),
    filler(seed, 4092),
    Buffer.from("Windows Boot Manager\0Windows 10\0", "utf16le"),
  ]);
}

function windowsFiles(): { where: "esp" | "ntfs"; path: string; data: Buffer }[] {
  return [
    { where: "esp", path: "EFI/Microsoft/Boot/bootmgfw.efi", data: peLike("bootmgfw") },
    { where: "esp", path: "EFI/Microsoft/Boot/BCD", data: bcdLike("esp-bcd") },
    // Windows' own fallback loader (a copy of bootmgfw.efi): must never be overwritten.
    { where: "esp", path: "EFI/BOOT/BOOTX64.EFI", data: peLike("bootmgfw") },
    { where: "ntfs", path: "bootmgr", data: peLike("bootmgr", 8 * 1024) },
    { where: "ntfs", path: "Boot/BCD", data: bcdLike("ntfs-bcd") },
    { where: "ntfs", path: "Windows/System32/ntoskrnl.exe", data: peLike("ntoskrnl", 64 * 1024) },
    {
      where: "ntfs",
      path: THESIS,
      data: Buffer.from(
        "On the Analytical Engine.\n\nChapter 1: the engine weaves algebraic patterns just as the Jacquard loom weaves flowers and leaves.\n",
      ),
    },
  ];
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** A loop device over a byte range of an image; detached by the caller (detachLoop). */
async function attachLoop(
  image: string,
  offset: number,
  size: number,
  readOnly: boolean,
): Promise<string> {
  const { stdout } = await run([
    "losetup",
    "--find",
    "--show",
    ...(readOnly ? ["--read-only"] : []),
    "--offset",
    String(offset),
    "--sizelimit",
    String(size),
    image,
  ]);
  return stdout.trim();
}

async function detachLoop(device: string): Promise<void> {
  await run(["losetup", "--detach", device]);
}

/** Runs `fn` with a loop device over the partition, always detaching it. */
export async function withPartitionLoop<T>(
  image: string,
  part: { startLba: number; sizeLba: number },
  sectorSize: number,
  readOnly: boolean,
  fn: (device: string) => Promise<T>,
): Promise<T> {
  const device = await attachLoop(
    image,
    part.startLba * sectorSize,
    part.sizeLba * sectorSize,
    readOnly,
  );
  try {
    return await fn(device);
  } finally {
    await detachLoop(device);
  }
}

// Fills a fresh NTFS through ntfs-3g (ntfscp cannot make directories), mounted only inside a
// private mount namespace that ends with the script: nothing leaks into the host's mounts.
// fuseblk makes umount wait until ntfs-3g has written everything.
const FILL_NTFS = 'set -eu; ntfs-3g "$1" "$2"; cp -R "$3"/. "$2"/; umount "$2"';
// One file's SHA-256 from a command that prints the file (ntfscat, mcopy … -).
const HASH_OUTPUT = 'set -o pipefail; "$@" | sha256sum | cut -d" " -f1';

async function hashOf(argv: string[]): Promise<string> {
  const { stdout } = await run(["bash", "-c", HASH_OUTPUT, "bash", ...argv]);
  return stdout.trim();
}

const mtoolsEnv = { MTOOLS_SKIP_CHECK: "1" };
const mtoolsImage = (image: string, part: GptPartitionRef, sectorSize: number) =>
  `${image}@@${part.startLba * sectorSize}`;

/**
 * Formats the ESP at `esp` in `image` FAT32 as Windows and Debian's installer do and copies the
 * folder `efiDir` into it as its /EFI, with mtools (nothing is mounted).
 */
export async function writeEsp(
  image: string,
  esp: GptPartitionRef & { sizeLba: number },
  sectorSize: number,
  efiDir: string,
): Promise<void> {
  await run([
    "mkfs.fat",
    "-F",
    "32",
    "-S",
    String(sectorSize),
    // One sector per cluster: 100 MiB then has the clusters FAT32 needs (mtools insists).
    "-s",
    "1",
    "-h",
    String(esp.startLba),
    "-n",
    "SYSTEM",
    "--offset",
    String(esp.startLba),
    image,
    String((esp.sizeLba * sectorSize) / 1024),
  ]);
  await run(["mcopy", "-s", "-i", mtoolsImage(image, esp, sectorSize), efiDir, "::/"], {
    env: mtoolsEnv,
  });
}

/** Replaces the ESP's file at `espPath` ("EFI/…") with `local`: how tests change one. */
export async function overwriteEspFile(
  image: string,
  esp: GptPartitionRef,
  sectorSize: number,
  local: string,
  espPath: string,
): Promise<void> {
  await run(["mcopy", "-o", "-i", mtoolsImage(image, esp, sectorSize), local, `::/${espPath}`], {
    env: mtoolsEnv,
  });
}

/** A sentence for each of the ESP's recorded `files` that is gone or changed. */
export async function espFileDifferences(
  image: string,
  esp: GptPartitionRef,
  sectorSize: number,
  files: RecordedFile[],
): Promise<string[]> {
  const differences: string[] = [];
  for (const f of files) {
    const why = await fileDifference(f, [
      "env",
      "MTOOLS_SKIP_CHECK=1",
      "mcopy",
      "-n",
      "-i",
      mtoolsImage(image, esp, sectorSize),
      `::/${f.path}`,
      "-",
    ]);
    if (why) differences.push(why);
  }
  return differences;
}

/** Why the file `print` prints differs from the record, or undefined when it does not. */
async function fileDifference(f: RecordedFile, print: string[]): Promise<string | undefined> {
  try {
    const got = await hashOf(print);
    return got === f.sha256
      ? undefined
      : `${f.where}:${f.path} changed (sha256 ${got}, was ${f.sha256})`;
  } catch (err) {
    return `${f.where}:${f.path} cannot be read: ${(err as Error).message.split("\n")[0]}`;
  }
}

/**
 * Writes the Windows laptop disk to `image` (through a temp file renamed into place) and
 * returns the record of its partitions and files.
 */
export async function makeWindowsDisk(
  image: string,
  options: WindowsDiskOptions = {},
): Promise<WindowsDiskRecord> {
  const sizeGiB = options.sizeGiB ?? 24;
  if (!Number.isInteger(sizeGiB) || sizeGiB < 2) {
    throw new RangeError(`sizeGiB must be an integer >= 2, got ${sizeGiB}`);
  }
  const ntfsGiB = options.ntfsGiB;
  if (
    ntfsGiB !== undefined &&
    (!Number.isInteger(ntfsGiB) || ntfsGiB < 1 || ntfsGiB > sizeGiB - 1)
  ) {
    throw new RangeError(`ntfsGiB must be an integer from 1 to ${sizeGiB - 1}, got ${ntfsGiB}`);
  }
  const tmp = `${image}.tmp-${process.pid}`;
  const stage = await mkdtemp(join(tmpdir(), "atomiso-windows-disk-"));
  try {
    const script = [
      `size=${ESP_MIB}MiB, type=${ESP_TYPE}, name="EFI system partition"`,
      `size=${MSR_MIB}MiB, type=${MSR_TYPE}, name="Microsoft reserved partition"`,
      `${ntfsGiB !== undefined ? `size=${ntfsGiB}GiB, ` : ""}type=${BASIC_DATA_TYPE}, name="Basic data partition"`,
    ];
    const gpt = await partitionedImage(tmp, sizeGiB * 1024 * MIB, script);
    const [esp, msr, ntfs] = gpt.recorded as [
      RecordedPartition,
      RecordedPartition,
      RecordedPartition,
    ];
    const files = windowsFiles();
    for (const f of files) {
      const path = join(stage, f.where, f.path);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, f.data);
    }

    await writeEsp(tmp, esp, gpt.sectorSize, join(stage, "esp", "EFI"));

    // NTFS: a quick format with the partition's start as hidden sectors (as Windows has it).
    const mnt = join(stage, "mnt");
    await mkdir(mnt);
    await withPartitionLoop(tmp, ntfs, gpt.sectorSize, false, async (dev) => {
      await run([
        "mkntfs",
        "--quick",
        "--label",
        "Windows",
        "--partition-start",
        String(ntfs.startLba),
        dev,
      ]);
      await run(
        inPrivateMountNamespace(["sh", "-c", FILL_NTFS, "sh", dev, mnt, join(stage, "ntfs")]),
      );
    });
    await rename(tmp, image);
    return {
      image,
      sizeBytes: sizeGiB * 1024 * MIB,
      sectorSize: gpt.sectorSize,
      esp,
      msr,
      ntfs,
      files: files.map((f) => ({ where: f.where, path: f.path, sha256: sha256(f.data) })),
    };
  } finally {
    await rm(tmp, { force: true });
    await rm(stage, { recursive: true, force: true });
  }
}

export interface WindowsDiskCheck {
  /** Every difference from the record, one sentence each; empty when Windows is intact. */
  differences: string[];
  /** What `ntfsfix -n` printed. */
  ntfsfix: string;
}

/**
 * Reads the recorded files back from `image` (the ESP and NTFS found again by their start
 * sector: an install may shrink NTFS but never moves it) and checks NTFS with `ntfsfix -n`.
 */
export async function verifyWindowsDisk(
  image: string,
  record: WindowsDiskRecord,
): Promise<WindowsDiskCheck> {
  const differences: string[] = [];
  const gpt = await readGpt(image);
  const find = (want: RecordedPartition, what: string) =>
    findRecordedPartition(gpt, want, what, differences);
  const esp = find(record.esp, "EFI system partition");
  const msr = find(record.msr, "Microsoft reserved partition");
  if (msr && msr.sizeLba !== record.msr.sizeLba)
    differences.push("the Microsoft reserved partition changed size");
  const ntfs = find(record.ntfs, "NTFS partition");
  if (esp && esp.sizeLba !== record.esp.sizeLba)
    differences.push("the EFI system partition changed size");

  if (esp) {
    const espFiles = record.files.filter((x) => x.where === "esp");
    differences.push(...(await espFileDifferences(image, esp, gpt.sectorSize, espFiles)));
  }
  let ntfsfix = "";
  if (ntfs) {
    await withPartitionLoop(image, ntfs, gpt.sectorSize, true, async (dev) => {
      for (const f of record.files.filter((x) => x.where === "ntfs")) {
        // --force: a shrunk NTFS carries the dirty flag ntfsresize sets so that Windows runs
        // chkdsk at its next start; ntfscat refuses such a volume without it (read-only here).
        const why = await fileDifference(f, ["ntfscat", "--force", dev, `/${f.path}`]);
        if (why) differences.push(why);
      }
      const fix = await run(["ntfsfix", "--no-action", dev], { okExitCodes: [0, 1] });
      ntfsfix = `${fix.stdout}${fix.stderr}`.trim();
      if (fix.exitCode !== 0 || !/processed successfully/.test(ntfsfix)) {
        differences.push(
          `ntfsfix -n finds the NTFS not consistent (exit ${fix.exitCode}): ${ntfsfix}`,
        );
      }
    });
  }
  return { differences, ntfsfix };
}

/** The firmware boot entry Windows makes for itself: HD(esp)/File(\EFI\Microsoft\Boot\bootmgfw.efi). */
export function windowsBootOption(record: WindowsDiskRecord): LoadOption {
  return {
    attributes: LOAD_OPTION_ACTIVE,
    description: WINDOWS_BOOT_MANAGER,
    devicePath: diskFileDevicePath(record.esp, WINDOWS_LOADER),
    // Windows stores "WINDOWS" and a BCD object reference here; the firmware ignores it.
    optionalData: Buffer.from("WINDOWS\0", "latin1"),
  };
}

/**
 * A laptop's NVRAM: a copy of the firmware's VARS `template` with "Windows Boot Manager" first
 * in BootOrder, written to `out` (give it to the guest with ovmfVarsFile).
 */
export async function makeLaptopVars(
  record: WindowsDiskRecord,
  template: string,
  out: string,
): Promise<string> {
  return varsWithFirstEntry(template, windowsBootOption(record), out);
}

/** A copy of the VARS `template` with `entry` first in BootOrder, written to `out`. */
export async function varsWithFirstEntry(
  template: string,
  entry: LoadOption,
  out: string,
): Promise<string> {
  const store = await readVarStore(template);
  addBootEntry(store, entry, "first");
  await writeVarStore(out, store);
  return out;
}

/**
 * The installed system's GRUB menu, read on the host with debugfs (nothing is mounted) from
 * the disk's ext4 /boot (loader/grub.cfg: ostree's symlink to loader.0 or loader.1), or from
 * an ext4 root holding boot/loader/ when there is no separate /boot. Partitions the record
 * knows (Windows') are skipped.
 */
export async function readInstalledGrubCfg(
  image: string,
  record: WindowsDiskRecord,
): Promise<string> {
  const gpt = await readGpt(image);
  const windowsStarts = new Set([record.esp.startLba, record.msr.startLba, record.ntfs.startLba]);
  const tried: string[] = [];
  for (const p of gpt.partitions.filter((x) => !windowsStarts.has(x.start))) {
    const found = await withPartitionLoop(
      image,
      { startLba: p.start, sizeLba: p.size },
      gpt.sectorSize,
      true,
      async (dev) => {
        const { stdout: type } = await run(["blkid", "-p", "-o", "value", "-s", "TYPE", dev], {
          okExitCodes: [0, 2],
        });
        tried.push(`${p.node}: ${type.trim() || "no file system"}`);
        if (type.trim() !== "ext4") return undefined;
        // A separate /boot holds loader/; without one the sysroot's root holds boot/loader/.
        for (const path of ["/loader/grub.cfg", "/boot/loader/grub.cfg"]) {
          const cat = await run(["debugfs", "-R", `cat ${path}`, dev], { okExitCodes: [0, 1] });
          if (/^menuentry /m.test(cat.stdout)) return cat.stdout;
        }
        return undefined;
      },
    );
    if (found !== undefined) return found;
  }
  throw new Error(`no ext4 partition of ${image} holds loader/grub.cfg (${tried.join("; ")})`);
}
