// The erase confirmation's check (erase-check.js, which the Calamares page imports), run in
// node exactly as rendered into the branding folder: given what the page reads (GlobalStorage's
// partitionChoices and osproberLines, the live session's lsblk --json), does it ask, and does
// it name what would be lost? The last case feeds it this host's real lsblk output.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { calamaresOptionsFor } from "../../src/config/calamares-options.js";
import { loadConfig } from "../../src/config/load.js";
import { renderCalamares } from "../../src/render/calamares/render.js";
import { run } from "../../src/tools/exec.js";
import {
  blank,
  cdrom,
  eraseLossesOf,
  GiB,
  laptop,
  MiB,
  part,
  WINDOWS,
} from "../support/disk-list-fixtures.js";

const example = join(import.meta.dirname, "../../examples/particleos/atomiso.toml");
const loaded = await loadConfig(example);
const files = await renderCalamares(calamaresOptionsFor(loaded.config, loaded.dir));
const source = String(
  files.find((f) => f.path === "etc/calamares/branding/particleos/erase-check.js")?.content,
);
const eraseLosses = eraseLossesOf(source);

const erase = { install: "erase", swap: "none" };

/** installer-scripts/live/disk-list's JSON of a test machine (NAME left out: unused). */
function lsblk(...blockdevices: unknown[]): string {
  return JSON.stringify({ blockdevices });
}
const zram = { path: "/dev/zram0", type: "disk", size: 0, fstype: null, mountpoints: [null] };

describe("erase confirmation check", () => {
  it("names Windows and the NTFS partition when Erase is chosen on the laptop disk", () => {
    const losses = eraseLosses(erase, [WINDOWS], lsblk(cdrom, zram, laptop));
    expect(losses.ask).toBe(true);
    expect(losses.heading).toBe("Erase disk deletes everything on /dev/vda, among it:");
    expect(losses.lines).toEqual([
      "Windows Boot Manager on /dev/vda1 (vfat, 100 MiB)",
      '/dev/vda3 (ntfs, "Windows", 23.9 GiB)',
    ]);
  });

  it("does not ask for any other choice, nor before a choice is made", () => {
    for (const install of ["alongside", "replace", "manual", "none"]) {
      expect(eraseLosses({ install, swap: "none" }, [WINDOWS], lsblk(laptop)).ask, install).toBe(
        false,
      );
    }
    expect(eraseLosses(undefined, [WINDOWS], lsblk(laptop)).ask).toBe(false);
  });

  it("does not ask when the only disk is blank (the bios walk), booted from CD or USB", () => {
    expect(eraseLosses(erase, [], lsblk(cdrom, zram, blank("/dev/vda")))).toEqual({
      ask: false,
      heading: "",
      lines: [],
    });
    const stick = {
      ...blank("/dev/sdb", 8 * GiB),
      fstype: "iso9660",
      children: [
        { ...part("/dev/sdb1", 1800 * MiB, "iso9660"), mountpoints: ["/run/live/medium"] },
        part("/dev/sdb2", 10 * MiB, "vfat"),
      ],
    };
    expect(eraseLosses(erase, [], lsblk(stick, blank("/dev/vda"))).ask).toBe(false);
    // Partitions without a file system (a fresh table) hold nothing to lose.
    const fresh = { ...blank("/dev/vda"), children: [part("/dev/vda1", GiB, null)] };
    expect(eraseLosses(erase, [], lsblk(fresh)).ask).toBe(false);
  });

  it("asks for data partitions os-prober does not see, and for a whole-disk file system", () => {
    const data = {
      ...blank("/dev/nvme0n1", 512 * GiB),
      children: [part("/dev/nvme0n1p1", 512 * GiB, "ext4", "photos")],
    };
    expect(eraseLosses(erase, [], lsblk(data)).lines).toEqual([
      '/dev/nvme0n1p1 (ext4, "photos", 512.0 GiB)',
    ]);
    const whole = { ...blank("/dev/sda", 2 * GiB), fstype: "btrfs" };
    expect(eraseLosses(erase, [], lsblk(whole)).lines).toEqual(["/dev/sda (btrfs, 2.0 GiB)"]);
  });

  it("names each disk that holds something when there are several", () => {
    const linux = {
      ...blank("/dev/vdb", 40 * GiB),
      children: [part("/dev/vdb1", 40 * GiB, "ext4")],
    };
    const losses = eraseLosses(
      erase,
      [WINDOWS, "/dev/vdb1:Debian GNU/Linux 13 (trixie):Debian:linux"],
      lsblk(cdrom, laptop, blank("/dev/vdc"), linux),
    );
    expect(losses.ask).toBe(true);
    expect(losses.heading).toMatch(/on the disk you chose/);
    expect(losses.lines).toEqual([
      "/dev/vda (24.0 GiB):",
      "    Windows Boot Manager on /dev/vda1 (vfat, 100 MiB)",
      '    /dev/vda3 (ntfs, "Windows", 23.9 GiB)',
      "/dev/vdb (40.0 GiB):",
      "    Debian GNU/Linux 13 (trixie) on /dev/vdb1 (ext4, 40.0 GiB)",
    ]);
  });

  it("asks anyway, naming os-prober's systems, when the disk list cannot be read", () => {
    for (const text of ["", null, "not json", '{"devices":[]}']) {
      const losses = eraseLosses(erase, [WINDOWS], text);
      expect(losses.ask, String(text)).toBe(true);
      expect(losses.heading).toMatch(/could not be read/);
      expect(losses.lines).toEqual(["Windows Boot Manager on /dev/vda1"]);
    }
    expect(eraseLosses({ install: "alongside" }, [WINDOWS], "").ask).toBe(false);
  });

  it("asks when the list is flat (which disk holds a partition is then unknown)", () => {
    // lsblk without its tree column lists partitions beside their disks: the page once passed
    // itself over on the Windows laptop that way (its disk seemed to hold nothing).
    const { children, ...disk } = laptop;
    const losses = eraseLosses(erase, [WINDOWS], lsblk(cdrom, disk, ...children));
    expect(losses.ask).toBe(true);
    expect(losses.heading).toMatch(/could not be read/);
    expect(losses.lines).toEqual(["Windows Boot Manager on /dev/vda1"]);
  });

  it("reads the real disk list of this host (the script the live session runs)", async () => {
    const { stdout } = await run(["installer-scripts/live/disk-list"]);
    type Dev = { path: string; type: string; fstype: string | null; children?: Dev[] };
    const devices = (JSON.parse(stdout) as { blockdevices: Dev[] }).blockdevices;
    const disks = devices.filter((d) => d.type === "disk" && !d.path.startsWith("/dev/zram"));
    const withFs = disks.flatMap((d) => [d, ...(d.children ?? [])]).filter((d) => d.fstype);
    const losses = eraseLosses(erase, [], stdout);
    expect(losses.heading).not.toMatch(/could not be read/);
    expect(losses.ask).toBe(withFs.length > 0);
    // Every line names a device lsblk listed with its file system.
    for (const line of losses.lines.filter((l) => !l.endsWith(":"))) {
      const path = /\/dev\/\S+/.exec(line)?.[0];
      const device = withFs.find((d) => d.path === path);
      expect(device, line).toBeDefined();
      expect(line).toContain(String(device?.fstype));
    }
  });
});
