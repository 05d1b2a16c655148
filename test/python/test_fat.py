import os
import shutil
import subprocess
import tempfile
import unittest

from atomiso_live import fat


@unittest.skipUnless(shutil.which("mkfs.fat") and shutil.which("mcopy"), "needs dosfstools and mtools")
class FatFreeSpaceTest(unittest.TestCase):
    """Real file systems from mkfs.fat; a file copied in with mcopy takes exactly its clusters."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="atomiso-fat-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def image(self, fat_bits, mib):
        img = os.path.join(self.dir, f"fat{fat_bits}.img")
        with open(img, "wb") as f:
            f.truncate(mib * 1024 * 1024)
        subprocess.run(["mkfs.fat", "-F", str(fat_bits), "-s", "1", "-S", "512", img], check=True, capture_output=True)
        return img

    def check(self, fat_bits, mib):
        img = self.image(fat_bits, mib)
        free0, total = fat.free_bytes_of(img)
        self.assertGreater(total, (mib - 2) * 1024 * 1024 * 0.9)
        self.assertLessEqual(free0, total)
        # FAT32's root directory takes a cluster; FAT12/16 keep it outside the data area.
        self.assertEqual(total - free0, 512 if fat_bits == 32 else 0)
        data = os.path.join(self.dir, "data")
        with open(data, "wb") as f:
            f.write(b"x" * (300 * 1024 + 1))
        subprocess.run(["mcopy", "-i", img, data, "::data"], check=True, capture_output=True)
        free1, _ = fat.free_bytes_of(img)
        self.assertEqual(free0 - free1, 601 * 512)  # 300 KiB + 1 byte in 512-byte clusters

    def test_fat12(self):
        self.check(12, 2)

    def test_fat16(self):
        self.check(16, 20)

    def test_fat32(self):
        self.check(32, 40)

    def test_not_fat(self):
        img = os.path.join(self.dir, "zero.img")
        with open(img, "wb") as f:
            f.truncate(1024 * 1024)
        with self.assertRaises(fat.NotFat):
            fat.free_bytes_of(img)


if __name__ == "__main__":
    unittest.main()
