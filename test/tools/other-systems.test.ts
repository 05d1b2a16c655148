// installer-scripts/deploy/other-systems on a loop disk laid out like a Windows laptop that
// also holds another Linux: GPT with an ESP (vfat, EFI/Microsoft/Boot/bootmgfw.efi and BCD,
// written with mtools), a Microsoft reserved partition, NTFS (mkntfs; bootmgr, Boot/BCD,
// Windows/System32 and a user file written through ntfs-3g) and ext4 with an os-release whose
// name has quotes. The real os-prober runs on it (this host boots by BIOS, so it finds Windows
// by its boot sector and the other Linux), and lines in os-prober's UEFI format (its 05efi
// prints PARTITION@/EFI/…:Windows Boot Manager:Windows:efi) name the loop ESP. Every
// generated script's output passes grub-script-check (grub-common), and each menu entry is
// read back. bootc-other-systems (the bootc backend's part) writes the same entries, as a
// fragment, to the custom.cfg a bootupd-style static grub.cfg sources, and only there.
//
// Not covered here: os-prober's own UEFI detection (it needs a UEFI-booted machine and a
// GRUB drive for the partition, which loop devices do not get; under a faked /sys/firmware/efi
// grub-mount falls back to FUSE and 05efi refuses the "fuseblk" type). The boot tier covers it.
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, open, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { safeRemove } from "../../src/mounts/safe-remove.js";
import { run } from "../../src/tools/exec.js";
import { inPrivateMountNamespace } from "../../src/tools/namespace.js";

const repo = join(import.meta.dirname, "../..");
const tool = join(repo, "installer-scripts/deploy/other-systems");
const bootcTool = join(repo, "installer-scripts/deploy/bootc-other-systems");
const MIB = 1024 * 1024;

/** Writes the NTFS and ext4 contents inside a private mount namespace (never the host's table). */
const FILL = `#!/bin/bash
set -euo pipefail
ntfs=$1 ext=$2 m=$3
ntfs-3g "$ntfs" "$m"
mkdir -p "$m/Boot" "$m/Windows/System32" "$m/Users/me"
printf 'bootmgr' >"$m/bootmgr"
printf 'B\\0C\\0D\\0 \\0W\\0i\\0n\\0d\\0o\\0w\\0s\\0 \\0\\x31\\0\\x30\\0' >"$m/Boot/BCD"
echo 'my file' >"$m/Users/me/notes.txt"
umount "$m"
mount "$ext" "$m"
mkdir -p "$m/etc" "$m/lib64" "$m/boot/grub"
printf 'PRETTY_NAME="Other Linux 1 (it'\\''s \\\\"odd\\\\")"\\nNAME=Other\\nID=other\\n' >"$m/etc/os-release"
echo x >"$m/lib64/ld-linux-x86-64.so.2"
echo 'menuentry other {}' >"$m/boot/grub/grub.cfg"
umount "$m"
`;

describe("other-systems: os-prober's findings as a grub.d script", () => {
  let work: string;
  let loop = "";
  const part = (n: number) => `${loop}p${n}`;
  const uuid = async (dev: string) =>
    (await run(["blkid", "-p", "-o", "value", "-s", "UUID", dev])).stdout.trim();

  /** The grub.d script for LINES (os-prober's format; omitted: run the real os-prober). */
  async function script(firmware: string, lines?: string[], extra: string[] = []) {
    const argv = [tool, "grub-script", "--firmware", firmware, ...extra];
    if (lines) {
      const file = join(work, `lines-${Math.random().toString(36).slice(2)}`);
      await writeFile(file, `${lines.join("\n")}\n`);
      argv.push("--from", file);
    }
    // os-prober mounts every partition it probes: only ever inside a private namespace, and
    // there it sees only this disk, not the host's or another test's loop disks: it lists the
    // partitions from /sys/block/*/*, so a folder linking only this disk is bound over it.
    const only = join(work, `sys-block-${Math.random().toString(36).slice(2)}`);
    const wrapped = lines
      ? argv
      : [
          "sh",
          "-c",
          'mkdir "$2" && ln -s "$(readlink -f "/sys/block/$1")" "$2/$1" && mount --bind "$2" /sys/block && shift 2 && exec "$@"',
          "sh",
          loop.replace("/dev/", ""),
          only,
          ...argv,
        ];
    const r = await run(inPrivateMountNamespace(wrapped), { timeoutMs: 300_000 });
    const path = join(work, `script-${Math.random().toString(36).slice(2)}`);
    await writeFile(path, r.stdout);
    await chmod(path, 0o755);
    const menu = (await run(["sh", path])).stdout;
    // grub-script-check exits non-zero on a syntax error in the grub.cfg text it reads (and on
    // text without any command, so a menu of comments only is not given to it).
    if (menu.includes("menuentry")) await run(["grub-script-check"], { input: menu });
    return { script: r.stdout, notes: r.stderr, menu };
  }

  const entries = (menu: string) => menu.split("\n").filter((l) => l.startsWith("menuentry "));

  beforeAll(async () => {
    work = await mkdtemp("/var/tmp/atomiso-other-systems-");
    const image = join(work, "disk.img");
    await writeFile(image, "");
    const fh = await open(image, "r+");
    await fh.truncate(400 * MIB);
    await fh.close();
    await run([
      "sgdisk",
      "--new=1:1M:+64M",
      "--typecode=1:C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
      "--change-name=1:EFI system partition",
      "--new=2:0:+16M",
      "--typecode=2:E3C9E316-0B5C-4DB8-817D-F92DF00215AE",
      "--change-name=2:Microsoft reserved partition",
      "--new=3:0:+200M",
      "--typecode=3:EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
      "--change-name=3:Basic data partition",
      "--new=4:0:0",
      "--typecode=4:0FC63DAF-8483-4772-8E79-3D69D8477DE4",
      image,
    ]);
    loop = (await run(["losetup", "--find", "--show", image])).stdout.trim();
    await run(["partx", "--delete", loop], { okExitCodes: [0, 1] });
    await run(["partx", "--add", loop]);
    for (let i = 0; i < 50 && !existsSync(part(4)); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await run(["mkfs.fat", "-F", "32", "-n", "SYSTEM", part(1)]);
    const loader = join(work, "bootmgfw.efi");
    await writeFile(loader, "MZ not really Windows");
    await run(["mmd", "-i", part(1), "::/EFI", "::/EFI/Microsoft", "::/EFI/Microsoft/Boot"]);
    await run(["mcopy", "-i", part(1), loader, "::/EFI/Microsoft/Boot/bootmgfw.efi"]);
    await run(["mcopy", "-i", part(1), loader, "::/EFI/Microsoft/Boot/BCD"]);
    await run(["mkntfs", "-Q", "-L", "Windows", part(3)]);
    await run(["mkfs.ext4", "-q", "-L", "other", part(4)]);
    const fill = join(work, "fill");
    await writeFile(fill, FILL);
    const m = join(work, "m");
    await mkdir(m);
    await run(inPrivateMountNamespace(["bash", fill, part(3), part(4), m]));
  }, 120_000);

  afterAll(async () => {
    if (loop) {
      await run(["partx", "--delete", loop], { okExitCodes: [0, 1] });
      await run(["losetup", "--detach", loop], { okExitCodes: [0, 1] });
    }
    if (work) await safeRemove(work);
  });

  it("turns the real os-prober's findings into BIOS entries: Windows by its boot sector, another Linux by its own menu", async () => {
    const { menu, notes } = await script("bios");
    expect(entries(menu)).toEqual([
      `menuentry 'Windows 10 (on ${part(3)})' --class windows --class os --id 'atomiso-other-0' {`,
      `menuentry 'Other Linux 1 (it'\\''s "odd") (on ${part(4)})' --class os --id 'atomiso-other-1' {`,
    ]);
    const windows = menu.slice(
      menu.indexOf("menuentry 'Windows"),
      menu.indexOf("menuentry 'Other"),
    );
    expect(windows).toContain(`search --no-floppy --fs-uuid --set=root '${await uuid(part(3))}'`);
    expect(windows).toContain("insmod ntfs");
    expect(windows).toContain("chainloader +1");
    const linux = menu.slice(menu.indexOf("menuentry 'Other"));
    expect(linux).toContain(`search --no-floppy --fs-uuid --set=root '${await uuid(part(4))}'`);
    expect(linux).toContain("configfile /boot/grub/grub.cfg");
    expect(notes).toContain(`menu entry for Windows 10 on ${part(3)} (chain)`);
  });

  it("leaves out the partitions of the new system itself", async () => {
    const { menu } = await script("bios", undefined, ["--exclude", part(4)]);
    expect(entries(menu)).toHaveLength(1);
    expect(menu).not.toContain(part(4));
  });

  it("leaves out what is mounted at the target's root or /boot (--target, the installers' way)", async () => {
    // The target's /boot is the other Linux's partition here, mounted read-only in a private
    // namespace at a path with a space (mountinfo writes it as \040).
    const target = join(work, `new root ${Math.random().toString(36).slice(2)}`);
    await mkdir(join(target, "boot"), { recursive: true });
    const from = join(work, "target-lines");
    await writeFile(
      from,
      `${part(1)}@/EFI/Microsoft/Boot/bootmgfw.efi:Windows Boot Manager:Windows:efi\n${part(4)}:Other Linux 1:Other:linux\n`,
    );
    const r = await run(
      inPrivateMountNamespace([
        "sh",
        "-c",
        'mount -o ro "$1" "$2/boot" && shift 2 && exec "$@"',
        "sh",
        part(4),
        target,
        tool,
        "grub-menu",
        "--firmware",
        "efi",
        "--target",
        target,
        "--from",
        from,
      ]),
    );
    expect(entries(r.stdout)).toEqual([
      `menuentry 'Windows Boot Manager (on ${part(1)})' --class windows --class os --id 'atomiso-other-0' {`,
    ]);
    expect(r.stdout).not.toContain(part(4));
  });

  it("chainloads Windows Boot Manager from the ESP by its FS UUID on UEFI, and drops what UEFI cannot start", async () => {
    const { menu, notes } = await script("efi", [
      `${part(1)}@/EFI/Microsoft/Boot/bootmgfw.efi:Windows Boot Manager:Windows:efi`,
      `${part(3)}:Windows 10:Windows:chain`,
      `${part(4)}:Other Linux 1:Other:linux`,
    ]);
    expect(entries(menu)).toEqual([
      `menuentry 'Windows Boot Manager (on ${part(1)})' --class windows --class os --id 'atomiso-other-0' {`,
      `menuentry 'Other Linux 1 (on ${part(4)})' --class os --id 'atomiso-other-1' {`,
    ]);
    expect(menu).toContain(`search --no-floppy --fs-uuid --set=root '${await uuid(part(1))}'`);
    expect(menu).toContain("insmod fat");
    expect(menu).toContain("chainloader '/EFI/Microsoft/Boot/bootmgfw.efi'");
    expect(menu).not.toContain("chainloader +1");
    expect(notes).toMatch(/left out Windows 10 on \S+: it starts from BIOS only/);
  });

  it("keeps a hostile title one GRUB word and refuses loader paths and devices it cannot quote", async () => {
    const { menu, notes } = await script("efi", [
      `${part(4)}:Evil' ; insmod shell; echo 'x\u0007 $root:Evil:linux`,
      `${part(1)}@/EFI/x'y/boot.efi:Quote in path:Q:efi`,
      `${part(1)}@/EFI/\\evil.efi:Backslash:B:efi`,
      "/dev/sda1;reboot:Bad device:B:linux",
      `${part(2)}:No file system:N:linux`,
      `${part(3)}:A Mac:Mac:macosx`,
      "not an os-prober line",
    ]);
    // One entry; its title is a single-quoted word: ' closes, \' is a quote, ' reopens.
    expect(entries(menu)).toEqual([
      `menuentry 'Evil'\\'' ; insmod shell; echo '\\''x  $root (on ${part(4)})' --class os --id 'atomiso-other-0' {`,
    ]);
    expect(notes).toContain("cannot be given to GRUB safely");
    expect(notes).toContain("is not a device name");
    expect(notes).toContain("has no UUID to find it by");
    expect(notes).toContain("type 'macosx' is not supported");
    expect(notes).toContain("ignored a line os-prober printed");
  });

  it("prints a script with no entries when nothing was found", async () => {
    const { menu } = await script("efi", []);
    expect(entries(menu)).toEqual([]);
    expect(menu).toMatch(/^# Written by the atomiso installer/);
  });

  describe("bootc-other-systems: the entries in the custom.cfg bootupd's static grub.cfg sources", () => {
    // The stanza bootupd's configs.d/41_custom.cfg puts into its static grub.cfg (written here
    // in our own words; nothing of bootupd is copied).
    const STATIC_CFG = [
      "set timeout=5",
      "blscfg",
      "if [ -f $prefix/custom.cfg ]; then",
      "  source $prefix/custom.cfg",
      "fi",
      "",
    ].join("\n");
    const LINES = () => [
      `${part(1)}@/EFI/Microsoft/Boot/bootmgfw.efi:Windows Boot Manager:Windows:efi`,
      `${part(4)}:Other Linux 1:Other:linux`,
    ];

    /**
     * A target with boot/<dir>/grub.cfg holding `cfg` (and custom.cfg holding `custom`, when
     * given); runs bootc-other-systems on it with os-prober's `lines`.
     */
    async function bootcRun(
      firmware: string,
      cfg: string | undefined,
      {
        dir = "grub2",
        lines = LINES(),
        custom,
      }: { dir?: string; lines?: string[]; custom?: string } = {},
    ) {
      const root = await mkdtemp(join(work, "bootc-target-"));
      if (cfg !== undefined) {
        await mkdir(join(root, "boot", dir), { recursive: true });
        await writeFile(join(root, "boot", dir, "grub.cfg"), cfg);
      }
      if (custom !== undefined) await writeFile(join(root, "boot", dir, "custom.cfg"), custom);
      const from = join(root, "os-prober.lines");
      await writeFile(from, `${lines.join("\n")}\n`);
      const r = await run([bootcTool, root, firmware, "--from", from]);
      return { out: r.stdout, custom: join(root, "boot", dir, "custom.cfg") };
    }

    it("writes the entries GRUB can start to custom.cfg beside the static grub.cfg", async () => {
      const { out, custom } = await bootcRun("efi", STATIC_CFG);
      const menu = await readFile(custom, "utf8");
      expect(entries(menu)).toEqual([
        `menuentry 'Windows Boot Manager (on ${part(1)})' --class windows --class os --id 'atomiso-other-0' {`,
        `menuentry 'Other Linux 1 (on ${part(4)})' --class os --id 'atomiso-other-1' {`,
      ]);
      expect(menu).toContain(`search --no-floppy --fs-uuid --set=root '${await uuid(part(1))}'`);
      expect(menu).toMatch(/^# Written by the atomiso installer/);
      // A fragment GRUB sources as it is: no shebang, no grub.d script lines.
      expect(menu).not.toContain("exec tail");
      await run(["grub-script-check", custom]);
      expect(out).toContain("wrote 2 menu entries to");
    });

    it("uses boot/grub when the image's GRUB lives there, and drops what BIOS cannot start", async () => {
      const { custom } = await bootcRun("bios", STATIC_CFG, { dir: "grub" });
      expect(entries(await readFile(custom, "utf8"))).toEqual([
        `menuentry 'Other Linux 1 (on ${part(4)})' --class os --id 'atomiso-other-0' {`,
      ]);
    });

    it("writes nothing where the static grub.cfg does not source custom.cfg, or one exists", async () => {
      const old = await bootcRun("efi", "set timeout=5\nblscfg\n");
      expect(existsSync(old.custom)).toBe(false);
      expect(old.out).toMatch(/does not source custom\.cfg .*not added/);

      const none = await bootcRun("efi", undefined);
      expect(none.out).toMatch(/no GRUB configuration in .*not added/);

      const own = "# the image's own\n";
      const kept = await bootcRun("efi", STATIC_CFG, {
        lines: [LINES()[1] as string],
        custom: own,
      });
      expect(await readFile(kept.custom, "utf8")).toBe(own);
      expect(kept.out).toContain("exists already");
    });

    it("writes nothing when no other system can be started", async () => {
      // Only an EFI loader, on a BIOS machine.
      const r = await bootcRun("bios", STATIC_CFG, { lines: [LINES()[0] as string] });
      expect(existsSync(r.custom)).toBe(false);
      expect(r.out).toContain("no other system GRUB can start was found");
    });
  });
});
