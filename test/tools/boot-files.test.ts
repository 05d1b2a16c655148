// The boot-files stage with the real GRUB, mtools and dosfstools, then a tiny hybrid ISO made
// from it with xorriso: inspected for a BIOS and a UEFI El Torito image and the appended ESP.
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { silentReporter } from "../../src/log/reporter.js";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { bootFilesStage } from "../../src/stages/boot-files.js";
import { run } from "../../src/tools/exec.js";
import { bootReport, xorrisoArgv } from "../../src/tools/xorriso.js";

describe("boot files and the hybrid ISO", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-boot-"));
  afterAll(() => safeRemove(work));
  const out = join(work, "boot");
  await mkdir(out);
  await bootFilesStage.run(
    {
      reporter: silentReporter,
      outDir: out,
      tmpDir: work,
      inputs: {},
      aptCacheDir: "/nonexistent",
    },
    { productName: "ParticleOS", timeout: 3, kernelArgs: [], fatSerial: "1234abcd" },
  );

  it("makes an ESP image with the signed shim chain", async () => {
    const { stdout } = await run(["mdir", "-i", join(out, "efiboot.img"), "-b", "::/EFI/BOOT"]);
    expect(stdout.split("\n").map((l) => l.trim().toUpperCase())).toEqual(
      expect.arrayContaining([
        "::/EFI/BOOT/BOOTX64.EFI",
        "::/EFI/BOOT/GRUBX64.EFI",
        "::/EFI/BOOT/MMX64.EFI",
      ]),
    );
    const shim = await readFile("/usr/lib/shim/shimx64.efi.signed");
    const { stdout: copied } = await run(
      ["mtype", "-i", join(out, "efiboot.img"), "::/EFI/BOOT/BOOTX64.EFI"],
      {},
    );
    expect(Buffer.byteLength(copied, "latin1")).toBeGreaterThan(0);
    expect(shim.length).toBeGreaterThan(500_000);
    await run(["fsck.fat", "-n", join(out, "efiboot.img")]);
    const { stdout: uuid } = await run([
      "blkid",
      "-o",
      "value",
      "-s",
      "UUID",
      join(out, "efiboot.img"),
    ]);
    expect(uuid.trim()).toBe("1234-ABCD");
  });

  it("makes a BIOS El Torito GRUB image and a GRUB menu", async () => {
    const eltorito = await readFile(join(out, "eltorito.img"));
    expect(eltorito.length).toBeGreaterThan(20_000);
    expect(await readFile(join(out, "grub.cfg"), "utf8")).toContain(
      'menuentry "Install ParticleOS"',
    );
  });

  it("packs a hybrid ISO with BIOS and UEFI boot images and an appended ESP", async () => {
    const root = join(work, "iso");
    await mkdir(join(root, "boot", "grub"), { recursive: true });
    await mkdir(join(root, ".disk"));
    await writeFile(join(root, ".disk", "info"), "ParticleOS test\n");
    await writeFile(join(root, "boot", "grub", "grub.cfg"), await readFile(join(out, "grub.cfg")));
    await writeFile(
      join(root, "boot", "grub", "eltorito.img"),
      await readFile(join(out, "eltorito.img")),
    );
    const iso = join(work, "tiny.iso");
    await run(
      xorrisoArgv({
        root,
        output: iso,
        volumeId: "TINY_TEST",
        publisher: "ParticleOS",
        eltoritoImage: "boot/grub/eltorito.img",
        hybridMbr: join(out, "boot_hybrid.img"),
        efiImage: join(out, "efiboot.img"),
      }),
    );
    const stdout = await bootReport(iso);
    expect(stdout).toMatch(/El Torito boot img :\s+1\s+BIOS\s+y\s+none/);
    expect(stdout).toMatch(/El Torito boot img :\s+2\s+UEFI\s+y\s+none/);
    expect(stdout).toMatch(/MBR partition\s+:\s+2\s+0x00\s+0xef/);
    expect(stdout).toContain("Volume id    : 'TINY_TEST'");
  });
});
