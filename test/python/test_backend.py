import os
import sys
import tempfile
import unittest

from atomiso_live import backend
from atomiso_live import plan as install_plan
from helpers import DIGEST, GOOD_PLAN, plan


class ArgvTest(unittest.TestCase):
    def test_embedded_argv_with_answer_kargs_and_luks(self):
        argv = backend.argv(GOOD_PLAN, "/t", "efi", "/dev/vda", "/var/log/d.log", ["quiet"], ["u1", "u2"])
        self.assertEqual(argv, [
            "/usr/lib/atomiso/deploy/ostree-deploy", "--layout", "/run/live/medium/atomiso/payload",
            "--digest", DIGEST, "--target-imgref", "registry.example.org/particleos/system:0.1.0",
            "--root", "/t", "--stateroot", "particleos", "--ref", "atomiso/particleos",
            "--firmware", "efi", "--disk", "/dev/vda", "--log", "/var/log/d.log",
            "--karg", "console=tty0", "--karg", "console=ttyS0,115200", "--karg", "quiet",
            "--karg", "rd.luks.uuid=u1", "--karg", "rd.luks.uuid=u2",
        ])

    def test_online_bootc_argv(self):
        p = install_plan.parse(__import__("json").dumps(plan(
            backend="bootc", kargs=[], payload={"mode": "online", "source": "r/o@" + DIGEST, "tlsVerify": True})))
        argv = backend.argv(p, "/t", "bios", "/dev/sda", "/l")
        self.assertEqual(argv[:5], ["/usr/lib/atomiso/deploy/bootc-deploy", "--pull", "r/o@" + DIGEST, "--tls-verify", "true"])
        self.assertNotIn("--karg", argv)


class ProtocolTest(unittest.TestCase):
    def test_progress_lines(self):
        self.assertEqual(backend.progress("atomiso-progress 50 Committing"), (50.0, "Committing"))
        self.assertEqual(backend.progress("atomiso-progress 12.5"), (12.5, ""))
        self.assertEqual(backend.progress("atomiso-progress   7   spaced  out"), (7.0, "spaced  out"))
        self.assertEqual(backend.progress("atomiso-progress 250 too far"), (100.0, "too far"))

    def test_not_progress_lines(self):
        for line in ("atomiso-progress", "atomiso-progress x", "atomiso-progress -5 no", "atomiso-progress50 x",
                     "atomiso: image verified", " atomiso-progress 5 x", "progress 5"):
            with self.subTest(line=line):
                self.assertIsNone(backend.progress(line))

    def test_shown_lines(self):
        for line in ("atomiso-progress 5 x", "atomiso: image verified", "atomiso-timing total 12.3"):
            self.assertTrue(backend.is_shown(line), line)
        for line in ("atomiso-error: x", "helper output", "atomiso:x", "atomiso-timing"):
            self.assertFalse(backend.is_shown(line), line)

    def test_error_message_is_the_last_one(self):
        self.assertEqual(backend.error_message(["noise", "atomiso-error: first", "atomiso-error:  second "]), "second")
        self.assertIsNone(backend.error_message(["noise", "error: x"]))


class RunTest(unittest.TestCase):
    def test_runs_and_splits_the_streams(self):
        with tempfile.TemporaryDirectory() as d:
            script = os.path.join(d, "fake")
            with open(script, "w", encoding="utf-8") as f:
                f.write("import sys\nprint('atomiso-progress 10 a')\nprint('atomiso-error: broke', file=sys.stderr)\nsys.exit(3)\n")
            seen = []
            status, errs = backend.run([sys.executable, script], seen.append)
            self.assertEqual(status, 3)
            self.assertEqual(seen, ["atomiso-progress 10 a"])
            self.assertEqual(backend.error_message(errs), "broke")

    def test_missing_program_raises_oserror(self):
        with self.assertRaises(OSError):
            backend.run(["/nonexistent/deploy"], print)


if __name__ == "__main__":
    unittest.main()
