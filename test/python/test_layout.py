import os
import unittest

from atomiso_live import gpt, layout

from helpers import GOOD_PLAN

HERE = os.path.dirname(os.path.abspath(__file__))
LAY = GOOD_PLAN["layout"]  # efi 512 MiB, BIOS boot 1 MiB, /boot 1024 MiB, root at least 8 GiB
DISK_24G = 24 * 1024 * 1024 * 2  # sectors


def fixture(name, disk_sectors=DISK_24G):
    with open(os.path.join(HERE, "fixtures", name), encoding="utf-8") as f:
        return layout.parse_table(f.read(), disk_sectors * 512)


class TableTest(unittest.TestCase):
    def test_windows_disk(self):
        t = fixture("sfdisk-windows.json")
        self.assertEqual((t["label"], t["sector"], t["first"], t["last"], t["max_parts"]), ("gpt", 512, 2048, 50331614, 128))
        self.assertEqual([p["n"] for p in t["partitions"]], [1, 2, 3])
        self.assertEqual(layout.find(t, "esp")["node"], "/dev/vda1")
        self.assertIsNone(layout.find(t, "bios-boot"))
        # After the NTFS partition up to the backup GPT, aligned down to a MiB.
        self.assertEqual(layout.free_regions(t), [(25405440, 50331614 - 25405440 + 1 - 2015)])
        self.assertEqual(layout.free_regions(t)[0][1] % 2048, 0)

    def test_full_disk_has_no_region(self):
        t = fixture("sfdisk-full.json")
        self.assertEqual(layout.free_regions(t), [])
        self.assertIsNone(layout.largest_region(t))
        self.assertEqual(layout.number_of(t["partitions"][2]["node"]), 3)

    def test_mbr(self):
        t = fixture("sfdisk-mbr.json")
        self.assertEqual((t["label"], t["max_parts"], t["last"]), ("dos", 4, DISK_24G - 1))
        self.assertEqual(layout.free_regions(t), [(21997568, DISK_24G - 21997568)])
        self.assertIsNone(layout.find(t, "esp"))

    def test_gap_between_partitions_and_alignment(self):
        t = fixture("sfdisk-windows.json")
        t2 = layout.without(t, 2)
        # The MSR's 16 MiB between the ESP and NTFS becomes free (MiB aligned).
        self.assertEqual(layout.free_regions(t2)[0], (206848, 32768))
        self.assertEqual(layout.region_at(t2, 206848), (206848, 32768))


class ModesTest(unittest.TestCase):
    def test_free_space_on_windows_disk_keeps_the_esp(self):
        t = fixture("sfdisk-windows.json")
        region = layout.largest_region(t)
        parts = layout.into_region(t, region, LAY, "efi", "ext4", 10)
        self.assertEqual([(p["role"], p["n"], p.get("keep", False)) for p in parts],
                         [("esp", 1, True), ("bios-boot", 4, False), ("boot", 5, False), ("root", 6, False)])
        new = [p for p in parts if not p.get("keep")]
        self.assertEqual(new[0]["start"], region[0])
        for a, b in zip(new, new[1:]):
            self.assertEqual(b["start"], a["start"] + a["size"])
        self.assertEqual(new[-1]["start"] + new[-1]["size"], region[0] + region[1])
        self.assertTrue(gpt.same(new[-1]["type"], gpt.ROOT_X86_64))
        script = layout.append_script(t, parts, "/dev/vda")
        self.assertEqual(script.splitlines()[0], f'/dev/vda4 : start={region[0]}, size=2048, type={gpt.BIOS_BOOT}, name="bios_grub"')
        self.assertEqual(len(script.splitlines()), 3)

    def test_free_space_bios_no_esp_and_home(self):
        t = fixture("sfdisk-windows.json")
        parts = layout.into_region(t, layout.largest_region(t), LAY, "bios", "btrfs", 10, boot=False, home_mib=2048)
        self.assertEqual([p["role"] for p in parts], ["bios-boot", "root", "home"])
        self.assertEqual(parts[-1]["size"], 2048 * 2048)
        self.assertEqual(parts[-1]["fs"], "btrfs")

    def test_too_small_and_full(self):
        t = fixture("sfdisk-windows.json")
        with self.assertRaises(layout.PlanError) as e:
            layout.into_region(t, layout.largest_region(t), LAY, "efi", "ext4", 20)
        self.assertEqual(e.exception.key, "disk.mode")
        self.assertIn("11.9 GiB", e.exception.what)
        with self.assertRaises(layout.PlanError) as e:
            layout.into_region(fixture("sfdisk-full.json"), None, LAY, "efi", "ext4", 12)
        self.assertIn("no unpartitioned space", str(e.exception))

    def test_shrink(self):
        t = fixture("sfdisk-full.json")
        t2, size = layout.shrunk(t, 3, 12 * layout.GiB)
        self.assertEqual(size % 2048, 0)
        self.assertEqual(size, (239616 + 50089984 - 12 * 2097152) // 2048 * 2048 - 239616)
        region = layout.region_at(t2, 239616 + size)
        self.assertEqual(region[0], 239616 + size)
        parts = layout.into_region(t2, region, LAY, "efi", "ext4", 10)
        self.assertEqual([p["n"] for p in parts], [1, 4, 5, 6])
        self.assertEqual(layout.append_script(t2, parts, "/dev/nvme0n1").splitlines()[0][:18], "/dev/nvme0n1p4 : s")
        with self.assertRaises(layout.PlanError) as e:
            layout.shrunk(t, 3, 30 * layout.GiB)
        self.assertEqual(e.exception.key, "disk.shrink_by_gib")
        with self.assertRaises(layout.PlanError) as e:
            layout.shrunk(t, 1, layout.GiB)
        self.assertEqual(e.exception.key, "disk.shrink_partition")
        self.assertIn("EFI system partition", e.exception.what)
        with self.assertRaises(layout.PlanError):
            layout.shrunk(t, 9, layout.GiB)

    def test_replace(self):
        t = fixture("sfdisk-windows.json")
        t2 = layout.without(t, 3)
        region = layout.region_at(t2, 239616)
        # The replaced partition and the free space after it are one region.
        self.assertEqual(region, (239616, (50331615 - 2015) - 239616))
        parts = layout.into_region(t2, region, LAY, "efi", "xfs", 10)
        self.assertEqual([p["n"] for p in parts], [1, 3, 4, 5])
        with self.assertRaises(layout.PlanError) as e:
            layout.without(t, 1)
        self.assertEqual(e.exception.key, "disk.replace_partition")

    def test_mbr_slot_limit(self):
        t = fixture("sfdisk-mbr.json")
        with self.assertRaises(layout.PlanError) as e:
            layout.into_region(t, layout.largest_region(t), LAY, "efi", "ext4", 12)
        self.assertIn("room for 2 more partition(s)", e.exception.what)
        parts = layout.into_region(t, layout.largest_region(t), LAY, "bios", "ext4", 10)
        self.assertEqual([(p["role"], p["n"], p["type"]) for p in parts], [("boot", 3, "83"), ("root", 4, "83")])
        self.assertNotIn("name=", layout.append_script(t, parts, "/dev/sda"))


class WholeDiskTest(unittest.TestCase):
    def test_default_is_the_erase_layout(self):
        parts = layout.whole_disk(LAY, "efi", "ext4")
        self.assertEqual([(p["n"], p["role"], p["mib"], p["fs"]) for p in parts],
                         [(1, "esp", 512, "vfat"), (2, "bios-boot", 1, None), (3, "boot", 1024, "ext4"), (4, "root", None, "ext4")])

    def test_no_boot_and_home(self):
        parts = layout.whole_disk(LAY, "bios", "btrfs", boot=False, home_mib=4096)
        self.assertEqual([(p["role"], p["mib"], p["mount"]) for p in parts],
                         [("bios-boot", 1, None), ("home", 4096, "/var/home"), ("root", None, "/")])
        self.assertEqual(parts[1]["type"], layout.HOME)

    def test_explicit(self):
        entries = [{"mount": "/", "filesystem": "xfs"}, {"mount": "/var/home", "filesystem": "ext4", "size_gib": 4},
                   {"mount": "/boot", "filesystem": "ext4", "size_gib": 0.5}]
        parts = layout.explicit(LAY, "efi", entries, encrypt=True)
        self.assertEqual([(p["role"], p["mib"], p["fs"], p["luks"]) for p in parts],
                         [("esp", 512, "vfat", False), ("bios-boot", 1, None, False), ("boot", 512, "ext4", False),
                          ("home", 4096, "ext4", False), ("root", None, "xfs", True)])
        parts = layout.explicit(LAY, "bios", [{"mount": "/", "filesystem": "ext4", "size_gib": 10},
                                              {"mount": "/var/home", "filesystem": "ext4"}])
        self.assertEqual([(p["n"], p["role"], p["mib"]) for p in parts], [(1, "bios-boot", 1), (2, "root", 10240), (3, "home", None)])

    def test_home_fstab_line(self):
        self.assertEqual(layout.home_fstab_line("1234-ABCD", "ext4"), "UUID=1234-ABCD\t/var/home\text4\tdefaults\t0\t2")
        self.assertTrue(layout.home_fstab_line("0f4e2a1c-1234-4abc-8def-0123456789ab", "btrfs").endswith("\t0\t0"))
        self.assertRaises(ValueError, layout.home_fstab_line, "a b", "ext4")


if __name__ == "__main__":
    unittest.main()
