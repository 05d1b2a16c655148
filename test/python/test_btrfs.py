import unittest

from atomiso_live import btrfs

UUID = "0f4e2a1c-1234-4abc-8def-0123456789ab"


class BtrfsLayoutTest(unittest.TestCase):
    def test_root_kargs(self):
        self.assertEqual(btrfs.root_kargs(), ["rootflags=subvol=@"])
        self.assertEqual(btrfs.root_kargs("@root"), ["rootflags=subvol=@root"])
        for bad in ("", "root", "@ x", "@/a", "@;x", "@" + "a" * 64):
            with self.assertRaises(ValueError, msg=bad):
                btrfs.root_kargs(bad)

    def test_fstab_lines(self):
        self.assertEqual(btrfs.default_fstab_lines(UUID), [f"UUID={UUID}\t/var/home\tbtrfs\tsubvol=@home,defaults\t0\t0"])
        self.assertEqual(
            btrfs.fstab_lines(UUID, [("@", "/"), ("@home", "/var/home"), ("@snapshots", "/.snapshots")]),
            [f"UUID={UUID}\t/var/home\tbtrfs\tsubvol=@home,defaults\t0\t0",
             f"UUID={UUID}\t/.snapshots\tbtrfs\tsubvol=@snapshots,defaults\t0\t0"],
        )
        self.assertEqual(btrfs.fstab_lines(UUID, {"@snapshots": None}), [])

    def test_fstab_refuses_what_would_break_the_file(self):
        for uuid in ("", "x", UUID + " /", "UUID=" + UUID):
            with self.assertRaises(ValueError):
                btrfs.fstab_lines(uuid, {"@home": "/var/home"})
        for mp in ("var/home", "/var home", "/var/../etc", "/var\\040x", "/a\tb", "/a/./b"):
            with self.assertRaises(ValueError, msg=mp):
                btrfs.fstab_lines(UUID, {"@home": mp})

    def test_create_argv(self):
        self.assertEqual(btrfs.create_argv("/run/t/", "@home"), ["btrfs", "subvolume", "create", "/run/t/@home"])
        self.assertEqual([btrfs.create_argv("/t", s)[-1] for s in btrfs.SUBVOLUMES], ["/t/@", "/t/@home", "/t/@snapshots"])
        with self.assertRaises(ValueError):
            btrfs.create_argv("/t", "../x")

    def test_mount_options(self):
        self.assertEqual(btrfs.mount_options("@"), "subvol=@,defaults")
        self.assertEqual(btrfs.mount_options("@", ""), "subvol=@")


if __name__ == "__main__":
    unittest.main()
