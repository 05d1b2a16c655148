// The "Replace a partition" walk's disk (test/support/linux-disk.ts) built with the real tools:
// its GPT read back by sfdisk, the old system named by os-prober's own Linux probe (on the tree
// debugfs copies out of the image), the data partition verified intact, then changed by one
// file removed to see the verification notice. The UEFI PC's variant: its ESP with the old
// system's loaders (read back with mtools, a changed one noticed) and its NVRAM entry, and the
// boot tier's check of the new system's entry first, passing only once one is added before it.
import { access, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { ovmfFiles } from "../../src/qemu/machine.js";
import {
  addBootEntry,
  bootConfig,
  diskFileDevicePath,
  LOAD_OPTION_ACTIVE,
  orderedEntries,
  readVarStore,
  writeVarStore,
} from "../../src/qemu/ovmf-vars.js";
import { run } from "../../src/tools/exec.js";
import { inPrivateMountNamespace } from "../../src/tools/namespace.js";
import { describeBootOrder, expectNewSystemFirst } from "../support/dual-boot.js";
import {
  ESP_TOOL,
  LINUX_FS_TYPE,
  type LinuxDiskRecord,
  makeLinuxDisk,
  OLD_SYSTEM_BOOT_ENTRY,
  OLD_SYSTEM_NAME,
  oldLinuxVars,
  partitionDevice,
  readExt4File,
  verifyLinuxDisk,
} from "../support/linux-disk.js";
import { ESP_TYPE, overwriteEspFile, readGpt } from "../support/windows-disk.js";

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
    // The probe numbers its labels in /var/lib/os-prober/labels, which os-prober itself clears
    // at each start: a fresh one in a private namespace, so no earlier run counts.
    const { stdout } = await run(
      inPrivateMountNamespace([
        "sh",
        "-c",
        'mkdir -p /var/lib/os-prober && mount -t tmpfs tmpfs /var/lib/os-prober && exec "$@"',
        "sh",
        OS_PROBER_LINUX_PROBE,
        "/dev/vda1",
        root,
        "ext4",
      ]),
    );
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

describe("the same disk as a UEFI PC's: an ESP first", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-linux-disk-uefi-test-"));
  afterAll(() => safeRemove(work));

  it("keeps the old system's loaders on the ESP, notices one changed, and makes its NVRAM entry", async () => {
    const disk = await makeLinuxDisk(join(work, "pc.raw"), { sizeGiB: 3, oldGiB: 1, esp: true });
    const gpt = await readGpt(disk.image);
    expect(gpt.partitions.map((p) => p.type.toUpperCase())).toEqual([
      ESP_TYPE,
      LINUX_FS_TYPE,
      LINUX_FS_TYPE,
    ]);
    expect(disk.old.number).toBe(2);
    expect(disk.data.number).toBe(3);
    // The user's tool is checked; the replaced system's own EFI/debian is not.
    expect(disk.espFiles.map((f) => f.path)).toEqual([ESP_TOOL]);
    expect((await verifyLinuxDisk(disk.image, disk)).differences).toEqual([]);

    const esp = disk.esp as NonNullable<typeof disk.esp>;
    const vars = await oldLinuxVars(
      disk,
      ovmfFiles("uefi")?.varsTemplate as string,
      join(work, "vars.fd"),
    );
    const before = orderedEntries(bootConfig(await readVarStore(vars)));
    expect(before[0]?.description).toBe(OLD_SYSTEM_BOOT_ENTRY);
    // The boot tier's check fails with the old system first, passes with the new one first.
    expect(() => expectNewSystemFirst(before, esp, "ParticleOS", "tools")).toThrow();
    const store = await readVarStore(vars);
    addBootEntry(
      store,
      {
        attributes: LOAD_OPTION_ACTIVE,
        description: "ParticleOS",
        devicePath: diskFileDevicePath(esp, "\\EFI\\particleos\\shimx64.efi"),
        optionalData: Buffer.alloc(0),
      },
      "first",
    );
    await writeVarStore(vars, store);
    const after = orderedEntries(bootConfig(await readVarStore(vars)));
    expect(describeBootOrder(after)).toMatch(/^Boot\w+ ParticleOS: .*\nBoot\w+ debian: /);
    expectNewSystemFirst(after, esp, "ParticleOS", "tools");

    const loader = join(work, "shimx64.efi");
    await writeFile(loader, "another loader");
    await overwriteEspFile(disk.image, esp, disk.sectorSize, loader, ESP_TOOL);
    expect((await verifyLinuxDisk(disk.image, disk)).differences).toEqual([
      expect.stringMatching(/^esp:EFI\/tools\/shellx64\.efi changed/),
    ]);
  });
});
