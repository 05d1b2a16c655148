"""atomiso_live.calamares_layout: globalstorage "partitions" as Calamares 3.3's
FillGlobalStorageJob writes it (every partition of the disk, claimed = formatted by this
install), for each partitioning path, and the layouts refused before the deploy writes."""

import unittest

from atomiso_live import calamares_layout as cl

UUID = "0f4e2a1c-1234-4abc-8def-0123456789ab"


def part(device, mount="", fs="ext4", claimed=True, **extra):
    p = {"device": device, "mountPoint": mount, "fs": fs, "fsName": fs, "claimed": claimed,
         "partlabel": "", "uuid": "", "features": {}}
    p.update(extra)
    return p


# The Windows laptop after "Install alongside" on UEFI: Windows' ESP reused (not claimed),
# MSR and NTFS untouched, the layout (bios-boot, /boot, /) created in the freed space.
WINDOWS = [part("/dev/vda1", "/boot/efi", "fat32", claimed=False),
           part("/dev/vda2", "", "unknown", claimed=False),
           part("/dev/vda3", "", "ntfs", claimed=False)]
ALONGSIDE = WINDOWS + [part("/dev/vda4", "", "unformatted", partlabel="bios-boot"),
                       part("/dev/vda5", "/boot"), part("/dev/vda6", "/")]
SUBVOLUMES = [{"mountPoint": "/", "subvolume": "/@"}, {"mountPoint": "/var/home", "subvolume": "/@home"},
              {"mountPoint": "/.snapshots", "subvolume": "/@snapshots"}]


class ClassifyTest(unittest.TestCase):
    def refused(self, partitions, firmware="efi", *args):
        with self.assertRaises(cl.LayoutError) as e:
            cl.classify(partitions, firmware, *args)
        return e.exception.title + ": " + e.exception.message

    def test_alongside_reuses_the_esp_and_touches_only_what_it_created(self):
        l = cl.classify(ALONGSIDE, "efi")
        self.assertEqual(l.root["device"], "/dev/vda6")
        self.assertEqual(l.boot["device"], "/dev/vda5")
        self.assertEqual(l.esp["device"], "/dev/vda1")
        self.assertEqual(l.created, ["/dev/vda4", "/dev/vda5", "/dev/vda6"])
        self.assertIsNone(l.home)
        self.assertIsNone(l.root_subvolume)
        self.assertEqual(l.unmount, [])

    def test_replace_on_bios_keeps_the_data_partition(self):
        # The SeaBIOS walk: the old Linux (vda1) replaced by the layout, its LUKS root opened as
        # a mapping; the data partition (vda2) has no mount point and is not claimed.
        replaced = [part("/dev/vda1", "", "unformatted", partlabel="bios-boot"),
                    part("/dev/vda2", "", "ext4", claimed=False),
                    part("/dev/vda3", "/boot"),
                    part("/dev/vda4", "/", luksMapperName="luks-4", luksUuid=UUID)]
        l = cl.classify(replaced, "bios")
        self.assertEqual(l.root["device"], "/dev/vda4")
        self.assertEqual(l.boot["device"], "/dev/vda3")
        self.assertIsNone(l.esp)
        self.assertIsNone(l.home)
        self.assertEqual(l.created, ["/dev/vda1", "/dev/vda3", "/dev/vda4"])
        self.assertEqual(l.unmount, [])

    def test_manual_without_boot_and_bios_without_esp(self):
        l = cl.classify([part("/dev/sda1", "", "unformatted"), part("/dev/sda2", "/", "xfs")], "bios")
        self.assertIsNone(l.boot)
        self.assertIsNone(l.esp)

    def test_separate_home_partition_from_var_home_or_home(self):
        for mp in ("/var/home", "/home"):
            l = cl.classify(ALONGSIDE + [part("/dev/vda7", mp, "xfs", claimed=False)], "efi")
            self.assertEqual(l.home, cl.Home("/dev/vda7", "xfs", None, mp))
            self.assertEqual(l.unmount, [mp])
            self.assertEqual(cl.home_fstab_line(l.home, UUID), "UUID={}\t/var/home\txfs\tdefaults\t0\t2".format(UUID))
            self.assertEqual(cl.home_mount_argv(l.home, "/t/var/home"), ["mount", "/dev/vda7", "/t/var/home"])

    def test_encrypted_home_is_used_through_its_mapping(self):
        l = cl.classify(ALONGSIDE + [part("/dev/vda7", "/var/home", luksMapperName="luks-1", luksUuid=UUID)], "efi")
        self.assertEqual(l.home.device, "/dev/mapper/luks-1")

    def test_btrfs_subvolumes(self):
        p = WINDOWS + [part("/dev/vda5", "/boot"), part("/dev/vda6", "/", "btrfs")]
        l = cl.classify(p, "efi", SUBVOLUMES, "/@")
        self.assertEqual(l.root_subvolume, "@")
        self.assertEqual(l.home, cl.Home("/dev/vda6", "btrfs", "@home", "/var/home"))
        # Deepest first; @snapshots leaves too and is not mounted again.
        self.assertEqual(l.unmount, ["/var/home", "/.snapshots"])
        self.assertEqual(cl.home_fstab_line(l.home, UUID), "UUID={}\t/var/home\tbtrfs\tsubvol=@home,defaults\t0\t0".format(UUID))
        self.assertEqual(cl.home_mount_argv(l.home, "/t/var/home"),
                         ["mount", "-o", "subvol=@home,defaults", "/dev/vda6", "/t/var/home"])
        # An encrypted btrfs root: the subvolume is mounted from the mapping.
        p = WINDOWS + [part("/dev/vda5", "/boot"), part("/dev/vda6", "/", "btrfs", luksMapperName="luks-r")]
        self.assertEqual(cl.classify(p, "efi", SUBVOLUMES, "/@").home.device, "/dev/mapper/luks-r")

    def test_a_home_partition_wins_over_the_home_subvolume(self):
        # Calamares drops @home when /var/home has a partition; with /home it keeps mounting it.
        p = WINDOWS + [part("/dev/vda5", "/boot"), part("/dev/vda6", "/", "btrfs"), part("/dev/vda7", "/home")]
        l = cl.classify(p, "efi", SUBVOLUMES, "/@")
        self.assertEqual(l.home.device, "/dev/vda7")
        self.assertEqual(l.unmount, ["/var/home", "/.snapshots", "/home"])

    def test_btrfs_used_whole(self):
        l = cl.classify([part("/dev/vda2", "/", "btrfs")], "bios", [{"mountPoint": "/", "subvolume": ""}], None)
        self.assertIsNone(l.root_subvolume)
        self.assertEqual(l.unmount, [])

    def test_refusals(self):
        cases = [
            ([part("/dev/vda6", "/boot")], "No root partition"),
            (WINDOWS + [part("/dev/vda6", "/", "ntfs")], "cannot hold an atomic system"),
            (WINDOWS + [part("/dev/vda6", "/", "fat32")], "cannot hold an atomic system"),
            ([part("/dev/vda6", "/")], "No EFI system partition"),
            ([part("/dev/vda1", "/boot/efi", "ntfs"), part("/dev/vda6", "/")], "is not FAT"),
            (ALONGSIDE + [part("/dev/vda7", "/boot", "fat32")], "Two partitions for one place"),
            (WINDOWS + [part("/dev/vda5", "/boot", "fat32"), part("/dev/vda6", "/")], "symbolic link, which FAT cannot hold"),
            (WINDOWS + [part("/dev/vda5", "/boot", "f2fs"), part("/dev/vda6", "/")], "GRUB cannot read the kernels"),
            (WINDOWS + [part("/dev/vda5", "/boot", luksMapperName="luks-b"), part("/dev/vda6", "/")], "/boot cannot be encrypted"),
            (WINDOWS + [part("/dev/vda6", "/", luksMapperName="luks-r")], "An encrypted root needs a separate /boot"),
            (ALONGSIDE + [part("/dev/vda7", "/var")], "a partition there would hide it"),
            (ALONGSIDE + [part("/dev/vda7", "/var/log")], "a partition there would hide it"),
            (ALONGSIDE + [part("/dev/vda7", "/usr")], "read-only system image"),
            (ALONGSIDE + [part("/dev/vda7", "/srv")], "Only /, /boot, /boot/efi, /var/home (or /home)"),
            (ALONGSIDE + [part("/dev/vda7", "/home"), part("/dev/vda8", "/var/home")], "Two partitions for one place"),
            (ALONGSIDE + [part("/dev/vda7", "/var/home", "ntfs", claimed=False)], "needs a Linux file system"),
        ]
        for partitions, expected in cases:
            self.assertIn(expected, self.refused(partitions), msg=expected)
        # A btrfs subvolume root without /boot.
        self.assertIn("needs a separate /boot",
                      self.refused(WINDOWS + [part("/dev/vda6", "/", "btrfs")], "efi", SUBVOLUMES, "/@"))
        self.assertIn("is not a subvolume name",
                      self.refused(WINDOWS + [part("/dev/vda5", "/boot"), part("/dev/vda6", "/", "btrfs")], "efi",
                                   [{"mountPoint": "/", "subvolume": "/@ x"}], "/@ x"))

    def test_esp_room(self):
        self.assertIsNone(cl.esp_problem(16 * 1024 * 1024))
        self.assertEqual(cl.esp_problem(3 * 1024 * 1024),
                         "the EFI system partition has 3 MiB free; the boot loader needs 16 MiB")


if __name__ == "__main__":
    unittest.main()
