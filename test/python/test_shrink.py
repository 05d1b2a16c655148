import os
import shutil
import subprocess
import tempfile
import unittest

from atomiso_live import shrink


class ShrinkRulesTest(unittest.TestCase):
    def test_problem(self):
        for fs in ("ntfs", "ext4", "ext3", "btrfs"):
            self.assertIsNone(shrink.problem(fs))
        self.assertIn("cannot be made smaller", shrink.problem("xfs"))
        self.assertIn("LUKS", shrink.problem("crypto_LUKS"))
        self.assertIn("blkid finds none", shrink.problem(""))
        self.assertIn("vfat", shrink.problem("vfat"))

    def test_tools(self):
        self.assertEqual(shrink.tools("ntfs"), ["ntfsresize"])
        self.assertEqual(shrink.tools("ext3"), ["e2fsck", "resize2fs", "dumpe2fs"])
        self.assertEqual(shrink.tools("btrfs"), ["btrfs"])

    def test_argv(self):
        self.assertEqual(shrink.ntfs_check_argv("/dev/vda3", 123), ["ntfsresize", "--no-action", "--size", "123", "/dev/vda3"])
        self.assertEqual(shrink.ext_resize_argv("/dev/vda3", 2 * 1024 * 1024 + 1023), ["resize2fs", "/dev/vda3", "2048K"])
        self.assertEqual(shrink.btrfs_resize_argv("/m", 1, 5), ["btrfs", "filesystem", "resize", "1:5", "/m"])

    def test_parsers_refuse_garbage(self):
        self.assertRaises(ValueError, shrink.ext_min_bytes, "", "")
        self.assertRaises(ValueError, shrink.btrfs_min_bytes, "error")
        self.assertRaises(ValueError, shrink.btrfs_devid, "")
        self.assertEqual(shrink.btrfs_min_bytes("105906176 bytes (101.00MiB)\n"), 105906176)


class RealToolOutputTest(unittest.TestCase):
    """The parsers on what the real tools print for image files (no root, no mount)."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="atomiso-shrink-")
        self.img = os.path.join(self.dir, "fs.img")
        with open(self.img, "wb") as f:
            f.truncate(256 * 1024 * 1024)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def out(self, argv):
        return subprocess.run(argv, check=True, capture_output=True, text=True).stdout

    @unittest.skipUnless(shutil.which("mkfs.ext4") and shutil.which("resize2fs"), "needs e2fsprogs")
    def test_ext4_minimum(self):
        subprocess.run(["mkfs.ext4", "-q", "-F", "-b", "4096", self.img], check=True)
        subprocess.run(shrink.ext_check_argv(self.img), check=True, capture_output=True)
        low = shrink.ext_min_bytes(self.out(shrink.ext_min_argv(self.img)), self.out(shrink.ext_block_argv(self.img)))
        self.assertEqual(low % 4096, 0)
        self.assertTrue(1024 * 1024 < low < 256 * 1024 * 1024, low)

    @unittest.skipUnless(shutil.which("mkfs.btrfs"), "needs btrfs-progs")
    def test_btrfs_devid(self):
        subprocess.run(["mkfs.btrfs", "-q", "-f", self.img], check=True, capture_output=True)
        self.assertEqual(shrink.btrfs_devid(self.out(shrink.btrfs_dump_super_argv(self.img))), (1, 1))


if __name__ == "__main__":
    unittest.main()
