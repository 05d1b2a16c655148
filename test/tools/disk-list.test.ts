// installer-scripts/live/disk-list, the real lsblk on a real partitioned disk (the boot tier's
// Windows laptop disk over a loop device): partitions must come nested under their disk, which
// the erase confirmation needs to tell what a disk holds. (Without lsblk's tree column they
// came as a flat list, and the page passed itself over on the laptop disk in the uefi walk.)
// This host has no udev, so lsblk reports no file system types here; in the live system udev's
// database gives them (the uefi walk reads them on the page).
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../../src/tools/exec.js";
import { eraseLossesOf } from "../support/disk-list-fixtures.js";
import { makeWindowsDisk } from "../support/windows-disk.js";

interface Dev {
  name: string;
  path: string;
  type: string;
  children?: Dev[];
}

describe("disk-list (the live session's list of disks for the erase confirmation)", async () => {
  const work = await mkdtemp(join(tmpdir(), "atomiso-disk-list-"));
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("nests the laptop disk's partitions under it", async () => {
    const disk = await makeWindowsDisk(join(work, "laptop.raw"), { sizeGiB: 2 });
    const loop = (await run(["losetup", "--find", "--show", disk.image])).stdout.trim();
    try {
      // Stale nodes of an earlier user of this loop device go first; then this disk's.
      await run(["partx", "--delete", loop], { okExitCodes: [0, 1] });
      await run(["partx", "--add", loop]);
      const { stdout } = await run(["installer-scripts/live/disk-list"]);
      const devices = (JSON.parse(stdout) as { blockdevices: Dev[] }).blockdevices;
      expect(devices.filter((d) => d.type === "part")).toEqual([]);
      const ours = devices.find((d) => d.path === loop);
      expect(ours?.children?.map((c) => c.path)).toEqual([`${loop}p1`, `${loop}p2`, `${loop}p3`]);

      // The page's check on that list, the loop device standing for a VM's disk, with the
      // Windows Boot Manager os-prober finds on its ESP: it asks, and names it.
      const source = await readFile("src/render/templates/erase-confirm/erase-check.js", "utf8");
      const eraseLosses = eraseLossesOf(source);
      const asDisk = JSON.stringify({
        blockdevices: devices.filter((d) => d.path === loop).map((d) => ({ ...d, type: "disk" })),
      });
      const losses = eraseLosses(
        { install: "erase" },
        [`${loop}p1@/EFI/Microsoft/Boot/bootmgfw.efi:Windows Boot Manager:Windows:efi`],
        asDisk,
      );
      expect(losses.ask).toBe(true);
      expect(losses.lines[0]).toMatch(new RegExp(`^Windows Boot Manager on ${loop}p1\\b`));
    } finally {
      await run(["partx", "--delete", loop], { okExitCodes: [0, 1] });
      await run(["losetup", "--detach", loop]);
    }
  }, 120_000);
});
