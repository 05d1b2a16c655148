import unittest

from atomiso_live import gpt, kargs, mounts, proc


class KargsTest(unittest.TestCase):
    GOOD = ["quiet", "console=ttyS0,115200n8", "rd.luks.uuid=0f4e-2a", "systemd.unit=multi-user.target",
            "root=UUID=1234", "video=1024x768@60", "init=/usr/lib/systemd/systemd", "8250.nr_uarts=4",
            "module_blacklist=a,b", "foo=", "path=~/x", "k" * 100 + "=v", "ip=10.0.0.2::10.0.0.1:255.255.255.0:host:eth0:off", "x=50%"]
    BAD = ["", "a b", "a\nb", "a;reboot", "a=$(id)", "a=${x}", "}", "{", "a='b'", 'a="b c"', "a=`id`",
           "a|b", "a&b", "a>b", "#comment", "-x", "=v", "a=b\\c", "a\tb", "a\x00", "a=*", "a=(b)", "a=[b]", "a=!b", "a=?", "a=" + "v" * 300]

    def test_good(self):
        for k in self.GOOD:
            self.assertIsNone(kargs.problem(k), k)

    def test_bad(self):
        for k in self.BAD:
            self.assertIsNotNone(kargs.problem(k), repr(k))
        self.assertEqual(kargs.problem(3), "is not a string")


class MountinfoTest(unittest.TestCase):
    def test_parse_and_unescape(self):
        text = (
            "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
            "40 22 0:5 / /mnt/with\\040space rw master:2 - tmpfs my\\134src rw\n"
        )
        self.assertEqual(mounts.parse_mountinfo(text), [
            ("8:1", "/dev/sda1", "/"),
            ("0:5", "my\\src", "/mnt/with space"),
        ])

    def test_real_table_has_proc(self):
        # /proc, not /: in a chroot the root need not be a mount point.
        self.assertIn("/proc", mounts.mount_points())
        self.assertTrue(mounts.is_mount_point("/proc/"))
        self.assertFalse(mounts.is_mount_point("/proc/self/fd"))


class ProcTest(unittest.TestCase):
    def test_failure_and_quote(self):
        self.assertIsNone(proc.failure(["true"]))
        self.assertEqual(proc.failure(["sh", "-c", "echo one >&2; echo last >&2; exit 3"]), "last")
        self.assertEqual(proc.failure(["false"]), "exit status 1")
        self.assertIn("not installed", proc.failure(["/nonexistent/tool"]))
        self.assertEqual(proc.quote(["mount", "a b", "--bind"]), "mount 'a b' --bind")


class GptTest(unittest.TestCase):
    def test_same_ignores_case(self):
        self.assertTrue(gpt.same(gpt.ESP.lower(), gpt.ESP))
        self.assertFalse(gpt.same(gpt.ESP, gpt.LINUX))


if __name__ == "__main__":
    unittest.main()
