// A raw disk image laid out like a PC that runs an older Linux and keeps its files on a second
// partition, for the "Replace a partition" walk: GPT with an ext4 root of that Linux (what
// os-prober needs to name it: /etc/os-release a dynamic loader and /boot) and an ext4 data partition
// (a user's files) after it. The install replaces the root and must leave the data partition as
// it was. With `esp` (a PC that boots by UEFI) an EFI system partition comes first, holding the
// old system's loaders in EFI/debian as Debian's installer leaves them and a user's UEFI tool;
// the install reuses it and must keep the tool (EFI/debian is the replaced system's own, see
// ESP_TOOL), and oldLinuxVars makes the NVRAM with that system's boot entry.
// The ext4 file systems are made and filled by mke2fs at an offset into the image (-E offset,
// -d), the ESP by mkfs.fat and mtools: no loop device, nothing mounted. verifyLinuxDisk reads
// the data partition's files back with debugfs and checks it with `e2fsck -fn` (both open the
// image at the partition's offset), and the ESP's with mtools.
// Host tools (Debian): fdisk (sfdisk), e2fsprogs, dosfstools, mtools.
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { diskFileDevicePath, LOAD_OPTION_ACTIVE } from "../../src/qemu/ovmf-vars.js";
import { run } from "../../src/tools/exec.js";
import {
  ESP_TYPE,
  espFileDifferences,
  findRecordedPartition,
  partitionedImage,
  type RecordedFile,
  type RecordedPartition,
  readGpt,
  varsWithFirstEntry,
  writeEsp,
} from "./windows-disk.js";

export const LINUX_FS_TYPE = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
/** What os-prober (and so Calamares' partition page) calls the old system. */
export const OLD_SYSTEM_NAME = "Debian GNU/Linux 12 (bookworm)";

const MIB = 1024 * 1024;

export interface LinuxDiskOptions {
  /** Whole disk, GiB (sparse). Default 20. */
  sizeGiB?: number;
  /** The old system's root partition, GiB; the data partition takes the rest. Default 12. */
  oldGiB?: number;
  /** A UEFI PC: an EFI system partition first, with the old system's loaders. Default false. */
  esp?: boolean;
}

/** The old system's firmware boot entry: its shim on the ESP, as Debian's installer makes it. */
export const OLD_SYSTEM_LOADER = "\\EFI\\debian\\shimx64.efi";
export const OLD_SYSTEM_BOOT_ENTRY = "debian";
/**
 * What must survive on the ESP: everything but the replaced system's own folder. EFI/debian
 * is the old system's and may be taken over: Debian's signed GRUB reads its grub.cfg from
 * /EFI/debian whatever system installs it, so a Debian-based image's install uses that folder
 * (docs/installer.md).
 */
export const ESP_TOOL = "EFI/tools/shellx64.efi";
const ESP_MIB = 256;

export interface LinuxDiskRecord {
  image: string;
  sectorSize: number;
  /** The old Linux root: what "Replace a partition" replaces. */
  old: RecordedPartition;
  /** The data partition: must survive the install unchanged. */
  data: RecordedPartition;
  /** The data partition's files (path inside it, no leading slash) and their SHA-256. */
  files: { path: string; sha256: string }[];
  /** With `esp`: the EFI system partition (reused by the install, never formatted)... */
  esp?: RecordedPartition;
  /** ...and the files on it that must stay (not the replaced system's own EFI/debian). */
  espFiles: RecordedFile[];
}

const sha256 = (b: string | Buffer) => createHash("sha256").update(b).digest("hex");

function oldSystemFiles(): Record<string, string> {
  return {
    "etc/os-release": `PRETTY_NAME="${OLD_SYSTEM_NAME}"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n`,
    "etc/hostname": "old-pc\n",
    // os-prober's 90linux-distro takes a root for a Linux only when it holds a dynamic loader
    // (by name) and a /boot directory.
    "lib64/ld-linux-x86-64.so.2": "not a real loader: os-prober only looks for its name\n",
    "boot/config-6.1.0-28-amd64": "CONFIG_EXT4_FS=y\n",
    "home/ada/notes.txt": "These notes go with the old system.\n",
  };
}

/**
 * The ESP's files: EFI/debian as Debian's installer leaves it, and a firmware tool the user
 * put there (stand-ins: only names and contents count).
 */
function oldEspFiles(): Record<string, string> {
  return {
    [ESP_TOOL]: "MZ stand-in for a UEFI shell the user keeps on the ESP\n",
    "EFI/debian/shimx64.efi": "MZ stand-in for Debian's signed shim\n",
    "EFI/debian/grubx64.efi": "MZ stand-in for Debian's signed GRUB\n",
    "EFI/debian/BOOTX64.CSV": "shimx64.efi,debian,,This is the boot entry for debian\n",
    "EFI/debian/grub.cfg":
      "search.fs_uuid 00000000-0000-0000-0000-000000000000 root\nset prefix=($root)'/boot/grub'\nconfigfile $prefix/grub.cfg\n",
  };
}

function dataFiles(): Record<string, string> {
  return {
    "ada/Documents/thesis.txt":
      "On the Analytical Engine.\n\nThe engine might compose elaborate pieces of music.\n",
    "ada/Photos/README": "Holiday photos, 1843.\n",
    "shared/budget.csv": "month,amount\njanuary,12\nfebruary,15\n",
  };
}

async function stageTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
}

/** An e2fsprogs device name that opens the image at the partition's first byte. */
export function partitionDevice(
  image: string,
  part: { startLba: number },
  sectorSize: number,
): string {
  return `${image}?offset=${part.startLba * sectorSize}`;
}

/**
 * Writes the disk to `image` (through a temp file renamed into place) and returns the record
 * of its partitions and of the data partition's files.
 */
export async function makeLinuxDisk(
  image: string,
  options: LinuxDiskOptions = {},
): Promise<LinuxDiskRecord> {
  const sizeGiB = options.sizeGiB ?? 20;
  const oldGiB = options.oldGiB ?? 12;
  const withEsp = options.esp ?? false;
  if (!Number.isInteger(sizeGiB) || sizeGiB < 2) {
    throw new RangeError(`sizeGiB must be an integer >= 2, got ${sizeGiB}`);
  }
  if (!Number.isInteger(oldGiB) || oldGiB < 1 || oldGiB > sizeGiB - 1) {
    throw new RangeError(`oldGiB must be an integer from 1 to ${sizeGiB - 1}, got ${oldGiB}`);
  }
  const tmp = `${image}.tmp-${process.pid}`;
  const stage = await mkdtemp(join(tmpdir(), "atomiso-linux-disk-"));
  try {
    const gpt = await partitionedImage(tmp, sizeGiB * 1024 * MIB, [
      ...(withEsp ? [`size=${ESP_MIB}MiB, type=${ESP_TYPE}, name="EFI system partition"`] : []),
      `size=${oldGiB}GiB, type=${LINUX_FS_TYPE}, name="debian"`,
      `type=${LINUX_FS_TYPE}, name="data"`,
    ]);
    const recorded = [...gpt.recorded];
    const esp = withEsp ? recorded.shift() : undefined;
    const [old, data] = recorded as [RecordedPartition, RecordedPartition];
    const espTree = oldEspFiles();
    if (esp) {
      await stageTree(join(stage, "esp"), espTree);
      await writeEsp(tmp, esp, gpt.sectorSize, join(stage, "esp", "EFI"));
    }
    const trees = { old: oldSystemFiles(), data: dataFiles() };
    for (const [name, part] of [
      ["old", old],
      ["data", data],
    ] as const) {
      const dir = join(stage, name);
      await stageTree(dir, trees[name]);
      await run([
        "mke2fs",
        "-q",
        "-t",
        "ext4",
        "-L",
        name,
        "-E",
        `offset=${part.startLba * gpt.sectorSize}`,
        "-d",
        dir,
        tmp,
        `${(part.sizeLba * gpt.sectorSize) / 1024}k`,
      ]);
    }
    await rename(tmp, image);
    return {
      image,
      sectorSize: gpt.sectorSize,
      old,
      data,
      files: Object.entries(trees.data).map(([path, text]) => ({ path, sha256: sha256(text) })),
      ...(esp ? { esp } : {}),
      espFiles: esp
        ? Object.entries(espTree)
            .filter(([path]) => !path.startsWith("EFI/debian/"))
            .map(([path, text]) => ({
              where: "esp" as const,
              path,
              sha256: sha256(text),
            }))
        : [],
    };
  } finally {
    await rm(tmp, { force: true });
    await rm(stage, { recursive: true, force: true });
  }
}

/**
 * The old PC's NVRAM: a copy of the firmware's VARS `template` with the old system's boot entry
 * (its shim on the ESP) first in BootOrder, written to `out` (give it to the guest with
 * ovmfVarsFile).
 */
export async function oldLinuxVars(
  record: LinuxDiskRecord,
  template: string,
  out: string,
): Promise<string> {
  if (!record.esp) throw new Error("oldLinuxVars: the disk was made without an ESP");
  const entry = {
    attributes: LOAD_OPTION_ACTIVE,
    description: OLD_SYSTEM_BOOT_ENTRY,
    devicePath: diskFileDevicePath(record.esp, OLD_SYSTEM_LOADER),
    optionalData: Buffer.alloc(0),
  };
  return varsWithFirstEntry(template, entry, out);
}

/** One file of an ext4 file system in an image, as text (debugfs; "" and an error if absent). */
export async function readExt4File(
  device: string,
  path: string,
): Promise<{ text: string; error?: string }> {
  const { stdout, stderr } = await run(["debugfs", "-R", `cat /${path}`, device]);
  // debugfs exits 0 when the file is missing: its complaint is on stderr after the banner.
  const complaint = stderr
    .split("\n")
    .slice(1)
    .find((l) => l.trim() !== "");
  return complaint ? { text: stdout, error: complaint.trim() } : { text: stdout };
}

export interface LinuxDiskCheck {
  /** Every difference from the record, one sentence each; empty when the data is intact. */
  differences: string[];
  /** What `e2fsck -fn` printed about the data partition. */
  e2fsck: string;
}

/**
 * Finds the data partition again by its start sector (findRecordedPartition), checks its
 * type, GUID and size, reads the recorded files back and runs `e2fsck -fn` on it.
 */
export async function verifyLinuxDisk(
  image: string,
  record: LinuxDiskRecord,
): Promise<LinuxDiskCheck> {
  const differences: string[] = [];
  const gpt = await readGpt(image);
  const p = findRecordedPartition(gpt, record.data, "data partition", differences);
  if (!p) return { differences, e2fsck: "" };
  if (p.sizeLba !== record.data.sizeLba)
    differences.push(
      `the data partition's size changed (${p.sizeLba} sectors, was ${record.data.sizeLba})`,
    );
  const device = partitionDevice(image, record.data, gpt.sectorSize);
  for (const f of record.files) {
    const got = await readExt4File(device, f.path);
    if (got.error) differences.push(`data:${f.path} cannot be read: ${got.error}`);
    else if (sha256(got.text) !== f.sha256)
      differences.push(`data:${f.path} changed (sha256 ${sha256(got.text)}, was ${f.sha256})`);
  }
  if (record.esp) {
    const esp = findRecordedPartition(gpt, record.esp, "EFI system partition", differences);
    if (esp && esp.sizeLba !== record.esp.sizeLba)
      differences.push(
        `the ESP's size changed (${esp.sizeLba} sectors, was ${record.esp.sizeLba})`,
      );
    if (esp)
      differences.push(
        ...(await espFileDifferences(image, record.esp, gpt.sectorSize, record.espFiles)),
      );
  }
  const fsck = await run(["e2fsck", "-f", "-n", device], { okExitCodes: [0, 1, 2, 4, 8] });
  const e2fsck = `${fsck.stdout}${fsck.stderr}`.trim();
  if (fsck.exitCode !== 0)
    differences.push(
      `e2fsck -fn finds the data partition not clean (exit ${fsck.exitCode}): ${e2fsck}`,
    );
  return { differences, e2fsck };
}
