// The dual-boot tests' Windows laptop disk (test/support/windows-disk.ts) built with the real
// tools: both variants (NTFS filling the disk; NTFS with free space after it), read back by
// blkid and by os-prober's own Windows probe, verified intact, then changed by one byte (NTFS)
// and one file (the ESP's fallback loader) to see the verification notice. And the OVMF VARS
// codec on the ovmf package's real templates: a Windows Boot Manager entry written, an install's
// entry put first, both copied into the Secure Boot VARS, every other variable kept.
import { access, mkdir, mkdtemp, readFile, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { ovmfFiles } from "../../src/qemu/machine.js";
import {
  addBootEntry,
  bootConfig,
  copyBootEntries,
  diskFileDevicePath,
  LOAD_OPTION_ACTIVE,
  orderedEntries,
  parseVarStore,
  readVarStore,
  serializeVarStore,
  writeVarStore,
} from "../../src/qemu/ovmf-vars.js";
import { run } from "../../src/tools/exec.js";
import { inPrivateMountNamespace } from "../../src/tools/namespace.js";
import { describeBootOrder, dualBootFindings, expectDualBoot } from "../support/dual-boot.js";
import {
  makeLaptopVars,
  makeWindowsDisk,
  overwriteEspFile,
  readGpt,
  readInstalledGrubCfg,
  THESIS,
  verifyWindowsDisk,
  WINDOWS_BOOT_MANAGER,
  type WindowsDiskRecord,
  withPartitionLoop,
} from "../support/windows-disk.js";

const OS_PROBER_EFI_PROBE = "/usr/lib/os-probes/mounted/efi/20microsoft";
const hasOsProber = await access(OS_PROBER_EFI_PROBE).then(
  () => true,
  () => false,
);

async function probe(image: string, part: { startLba: number; sizeLba: number }, sector: number) {
  return withPartitionLoop(image, part, sector, true, async (dev) => {
    const { stdout } = await run(["blkid", "-p", "-o", "export", dev]);
    return Object.fromEntries(
      stdout
        .trim()
        .split("\n")
        .map((l) => l.split("=", 2) as [string, string]),
    );
  });
}

describe("Windows laptop disk", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-windows-disk-test-"));
  afterAll(() => safeRemove(work));
  let full: WindowsDiskRecord;
  let partial: WindowsDiskRecord;

  it("variant (a): NTFS fills the disk; blkid sees FAT32 ESP and NTFS; the record verifies", async () => {
    full = await makeWindowsDisk(join(work, "full.raw"), { sizeGiB: 6 });
    const gpt = await readGpt(full.image);
    expect(gpt.partitions.map((p) => p.type.toUpperCase())).toEqual([
      "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
      "E3C9E316-0B5C-4DB8-817D-F92DF00215AE",
      "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
    ]);
    const last = gpt.partitions[2];
    // Filled: at most the backup GPT's 33 sectors (plus alignment) after NTFS.
    expect((last?.start ?? 0) + (last?.size ?? 0)).toBeGreaterThan(full.sizeBytes / 512 - 4096);
    const esp = await probe(full.image, full.esp, full.sectorSize);
    expect(esp).toMatchObject({ TYPE: "vfat", VERSION: "FAT32", LABEL: "SYSTEM" });
    const ntfs = await probe(full.image, full.ntfs, full.sectorSize);
    expect(ntfs).toMatchObject({ TYPE: "ntfs", LABEL: "Windows" });
    const check = await verifyWindowsDisk(full.image, full);
    expect(check.differences).toEqual([]);
    expect(check.ntfsfix).toMatch(/processed successfully/);
    expect(full.files.map((f) => `${f.where}:${f.path}`)).toEqual([
      "esp:EFI/Microsoft/Boot/bootmgfw.efi",
      "esp:EFI/Microsoft/Boot/BCD",
      "esp:EFI/BOOT/BOOTX64.EFI",
      "ntfs:bootmgr",
      "ntfs:Boot/BCD",
      "ntfs:Windows/System32/ntoskrnl.exe",
      `ntfs:${THESIS}`,
    ]);
  });

  it.skipIf(!hasOsProber)("os-prober's EFI probe names the ESP Windows Boot Manager", async () => {
    const esp = join(work, "esp-copy");
    const labels = join(work, "os-prober-state");
    await run(["mkdir", "-p", esp, labels]);
    await run(
      [
        "mcopy",
        "-s",
        "-n",
        "-i",
        `${full.image}@@${full.esp.startLba * full.sectorSize}`,
        "::/EFI",
        esp,
      ],
      { env: { MTOOLS_SKIP_CHECK: "1" } },
    );
    // The probe counts labels in /var/lib/os-prober: a private bind keeps the host's untouched.
    const { stdout } = await run(
      inPrivateMountNamespace([
        "sh",
        "-c",
        'mkdir -p /var/lib/os-prober && mount --bind "$1" /var/lib/os-prober && exec "$2" "$3"',
        "sh",
        labels,
        OS_PROBER_EFI_PROBE,
        join(esp, "EFI"), // os-prober's 05efi hands its probes <mount point>/EFI
      ]),
    );
    expect(stdout.trim()).toMatch(/^Microsoft\/Boot\/bootmgfw\.efi:Windows Boot Manager:Windows$/);
  });

  it("variant (b): NTFS of a given size leaves the rest of the disk free", async () => {
    partial = await makeWindowsDisk(join(work, "partial.raw"), { sizeGiB: 6, ntfsGiB: 2 });
    expect(partial.ntfs.sizeLba).toBe((2 * 1024 ** 3) / 512);
    const { stdout } = await run(["sfdisk", "--list-free", "--bytes", partial.image]);
    const free = stdout
      .split("\n")
      .map((l) => /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(l))
      .filter((m) => m !== null)
      .map((m) => Number(m[4]));
    // About 6 - 2 GiB - 116 MiB free at the end.
    expect(Math.max(...free)).toBeGreaterThan(3.8 * 1024 ** 3);
    expect((await verifyWindowsDisk(partial.image, partial)).differences).toEqual([]);
  });

  it("notices one changed byte of the user's thesis and an overwritten fallback loader", async () => {
    const thesis = join(work, "thesis.txt");
    await withPartitionLoop(partial.image, partial.ntfs, partial.sectorSize, false, async (dev) => {
      await run(["sh", "-c", 'ntfscat "$1" "$2" >"$3"', "sh", dev, `/${THESIS}`, thesis]);
      const bytes = await readFile(thesis);
      bytes[0] = (bytes[0] as number) ^ 0x20;
      await writeFile(thesis, bytes);
      await run(["ntfscp", "--force", dev, thesis, `/${THESIS}`]);
    });
    const loader = join(work, "BOOTX64.EFI");
    await writeFile(loader, "another system's loader");
    await overwriteEspFile(
      partial.image,
      partial.esp,
      partial.sectorSize,
      loader,
      "EFI/BOOT/BOOTX64.EFI",
    );
    const check = await verifyWindowsDisk(partial.image, partial);
    expect(check.differences).toHaveLength(2);
    expect(check.differences[0]).toMatch(/^esp:EFI\/BOOT\/BOOTX64\.EFI changed/);
    expect(check.differences[1]).toMatch(
      new RegExp(`^ntfs:${THESIS.replaceAll(".", "\\.")} changed`),
    );
    expect(check.ntfsfix).toMatch(/processed successfully/);
  });
});

describe("the installed GRUB menu, read on the host", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-windows-grub-test-"));
  afterAll(() => safeRemove(work));

  it("finds loader/grub.cfg through ostree's loader symlink on the new ext4 /boot", async () => {
    const disk = await makeWindowsDisk(join(work, "disk.raw"), { sizeGiB: 4, ntfsGiB: 1 });
    // What an install into the free space leaves: an ext4 /boot after Windows' partitions.
    const boot = join(work, "boot");
    await mkdir(join(boot, "loader.1"), { recursive: true });
    await writeFile(
      join(boot, "loader.1", "grub.cfg"),
      "menuentry 'ParticleOS' {\n}\nmenuentry 'Windows Boot Manager' {\n\tchainloader /EFI/Microsoft/Boot/bootmgfw.efi\n}\n",
    );
    await symlink("loader.1", join(boot, "loader"));
    await run(["sfdisk", "--quiet", "--append", disk.image], { input: "size=64MiB, type=linux\n" });
    const gpt = await readGpt(disk.image);
    const part = gpt.partitions[3];
    if (!part) throw new Error("sfdisk did not append a partition");
    await withPartitionLoop(
      disk.image,
      { startLba: part.start, sizeLba: part.size },
      512,
      false,
      (dev) => run(["mkfs.ext4", "-q", "-d", boot, dev]),
    );
    const cfg = await readInstalledGrubCfg(disk.image, disk);
    expect(cfg).toMatch(/^menuentry 'Windows Boot Manager'/m);
    expect((await verifyWindowsDisk(disk.image, disk)).differences).toEqual([]);

    // The boot tier's whole check on this disk: passes with the install's entry first, fails
    // with Windows still first.
    const vars = await makeLaptopVars(
      disk,
      ovmfFiles("uefi")?.varsTemplate as string,
      join(work, "vars.fd"),
    );
    const windowsFirst = await dualBootFindings(disk.image, disk, vars);
    expect(() => expectDualBoot(windowsFirst, disk, "ParticleOS")).toThrow();
    const store = await readVarStore(vars);
    addBootEntry(
      store,
      {
        attributes: LOAD_OPTION_ACTIVE,
        description: "ParticleOS",
        devicePath: diskFileDevicePath(disk.esp, "\\EFI\\debian\\shimx64.efi"),
        optionalData: Buffer.alloc(0),
      },
      "first",
    );
    await writeVarStore(vars, store);
    const found = await dualBootFindings(disk.image, disk, vars);
    expect(describeBootOrder(found.bootOrder)).toMatch(
      /^Boot0001 ParticleOS: HD\(1,GPT,.*\nBoot0000 Windows Boot Manager: /,
    );
    expectDualBoot(found, disk, "ParticleOS");
  });

  it("finds boot/loader/grub.cfg on an ext4 root when there is no separate /boot", async () => {
    const disk = await makeWindowsDisk(join(work, "no-boot.raw"), { sizeGiB: 4, ntfsGiB: 1 });
    const root = join(work, "root");
    await mkdir(join(root, "boot", "loader.0"), { recursive: true });
    await writeFile(join(root, "boot", "loader.0", "grub.cfg"), "menuentry 'ParticleOS' {\n}\n");
    await symlink("loader.0", join(root, "boot", "loader"));
    await run(["sfdisk", "--quiet", "--append", disk.image], { input: "size=64MiB, type=linux\n" });
    const part = (await readGpt(disk.image)).partitions[3];
    if (!part) throw new Error("sfdisk did not append a partition");
    await withPartitionLoop(
      disk.image,
      { startLba: part.start, sizeLba: part.size },
      512,
      false,
      (dev) => run(["mkfs.ext4", "-q", "-d", root, dev]),
    );
    expect(await readInstalledGrubCfg(disk.image, disk)).toMatch(/^menuentry 'ParticleOS'/m);
  });
});

describe("OVMF VARS on the real templates", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-ovmf-vars-test-"));
  afterAll(() => safeRemove(work));
  const plain = ovmfFiles("uefi")?.varsTemplate as string;
  const secure = ovmfFiles("uefi-secureboot")?.varsTemplate as string;
  const record = {
    esp: {
      number: 1,
      startLba: 2048,
      sizeLba: 204800,
      partitionGuid: "3f1b0c6e-7a55-4e0f-9a1e-0c2d4b6a8e10",
      type: "",
    },
  } as WindowsDiskRecord;

  it("reads the templates and writes them back unchanged in content", async () => {
    for (const file of [plain, secure]) {
      const store = await readVarStore(file);
      const again = parseVarStore(serializeVarStore(store));
      expect(again.variables).toEqual(store.variables);
    }
    // The Secure Boot template holds the enrolled keys; the plain one none.
    const names = (await readVarStore(secure)).variables.map((v) => v.name);
    expect(names).toEqual(expect.arrayContaining(["PK", "KEK", "db", "dbx"]));
  });

  it("round-trips a Windows Boot Manager entry, then an install's entry put first", async () => {
    const vars = await makeLaptopVars(record, plain, join(work, "laptop.fd"));
    const before = bootConfig(await readVarStore(vars));
    expect(orderedEntries(before)[0]).toEqual({
      number: expect.any(Number),
      description: WINDOWS_BOOT_MANAGER,
      active: true,
      path: "HD(1,GPT,3f1b0c6e-7a55-4e0f-9a1e-0c2d4b6a8e10,0x800,0x32000)/File(\\EFI\\Microsoft\\Boot\\bootmgfw.efi)",
    });
    // What efibootmgr does in the installer: a new entry, first in BootOrder.
    const store = await readVarStore(vars);
    const n = addBootEntry(
      store,
      {
        attributes: LOAD_OPTION_ACTIVE,
        description: "ParticleOS",
        devicePath: diskFileDevicePath(record.esp, "\\EFI\\debian\\shimx64.efi"),
        optionalData: Buffer.alloc(0),
      },
      "first",
    );
    await writeVarStore(vars, store);
    const after = orderedEntries(bootConfig(await readVarStore(vars)));
    expect(after.map((e) => [e.number, e.description])).toEqual([
      [n, "ParticleOS"],
      [orderedEntries(before)[0]?.number, WINDOWS_BOOT_MANAGER],
    ]);
    expect(after[0]?.path).toMatch(/File\(\\EFI\\debian\\shimx64\.efi\)$/);

    // Carried into a Secure Boot VARS copy: the same entries, the keys untouched.
    const sb = join(work, "secure.fd");
    await writeFile(sb, await readFile(secure));
    await copyBootEntries(vars, sb);
    const merged = await readVarStore(sb);
    expect(orderedEntries(bootConfig(merged))).toEqual(after);
    const original = await readVarStore(secure);
    for (const name of ["PK", "KEK", "db", "dbx"]) {
      const a = original.variables.find((v) => v.name === name);
      const b = merged.variables.find((v) => v.name === name);
      expect(b?.data.equals(a?.data as Buffer), name).toBe(true);
      expect(b?.authInfo.equals(a?.authInfo as Buffer), name).toBe(true);
    }
    expect((await readFile(sb)).length).toBe((await readFile(secure)).length);
  });
});
