// The "Replace a partition" walk's disk (test/support/linux-disk.ts) built with the real tools:
// its GPT read back by sfdisk, the old system named by os-prober's own Linux probe (on the tree
// debugfs copies out of the image), the data partition verified intact, then changed by one
// file removed to see the verification notice.
import { access, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { run } from "../../src/tools/exec.js";
import {
  LINUX_FS_TYPE,
  type LinuxDiskRecord,
  makeLinuxDisk,
  OLD_SYSTEM_NAME,
  partitionDevice,
  readExt4File,
  verifyLinuxDisk,
} from "../support/linux-disk.js";
import { readGpt } from "../support/windows-disk.js";

const OS_PROBER_LINUX_PROBE = "/usr/lib/os-probes/mounted/90linux-distro";
const hasOsProber = await access(OS_PROBER_LINUX_PROBE).then(
  () => true,
  () => false,
);

describe("old Linux and data partition disk", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-linux-disk-test-"));
  afterAll(() => safeRemove(work));
  let disk: LinuxDiskRecord;

  it("lays out the old system and the data partition after it, both ext4", async () => {
    disk = await makeLinuxDisk(join(work, "pc.raw"), { sizeGiB: 3, oldGiB: 1 });
    const gpt = await readGpt(disk.image);
    expect(gpt.partitions.map((p) => p.type.toUpperCase())).toEqual([LINUX_FS_TYPE, LINUX_FS_TYPE]);
    expect(disk.old.sizeLba * disk.sectorSize).toBe(1024 ** 3);
    expect(disk.data.startLba).toBe(disk.old.startLba + disk.old.sizeLba);
    for (const part of [disk.old, disk.data]) {
      const { stdout } = await run(["dumpe2fs", "-h", partitionDevice(disk.image, part, 512)]);
      expect(stdout).toMatch(/Filesystem features:.*\bextent\b/);
    }
    const notes = await readExt4File(
      partitionDevice(disk.image, disk.old, disk.sectorSize),
      "home/ada/notes.txt",
    );
    expect(notes).toEqual({ text: "These notes go with the old system.\n" });
  });

  it.skipIf(!hasOsProber)("os-prober's Linux probe names the old system", async () => {
    const root = join(work, "old-root");
    await run(["mkdir", "-p", root]);
    await run([
      "debugfs",
      "-R",
      `rdump / ${root}`,
      partitionDevice(disk.image, disk.old, disk.sectorSize),
    ]);
    const { stdout } = await run([OS_PROBER_LINUX_PROBE, "/dev/vda1", root, "ext4"]);
    expect(stdout.trim()).toBe(`/dev/vda1:${OLD_SYSTEM_NAME}:Debian:linux`);
  });

  it("verifies the data partition, and notices a file gone", async () => {
    const intact = await verifyLinuxDisk(disk.image, disk);
    expect(intact.differences).toEqual([]);
    expect(intact.e2fsck).toMatch(/data: \d+\/\d+ files/);

    const device = partitionDevice(disk.image, disk.data, disk.sectorSize);
    await run(["debugfs", "-w", "-R", "rm /shared/budget.csv", device]);
    const changed = await verifyLinuxDisk(disk.image, disk);
    expect(changed.differences).toEqual([
      expect.stringMatching(/^data:shared\/budget\.csv cannot be read: .*not found/),
    ]);
  });
});
