import os
import stat
import tempfile
import unittest

from atomiso_live import target


class CrypttabFstabTest(unittest.TestCase):
    def test_crypttab_keeps_the_image_lines_and_replaces_ours(self):
        existing = ["# <target name> <source device>", "luks-u1 UUID=old none luks", "other UUID=x none luks"]
        self.assertEqual(target.crypttab_lines(existing, ["u1", "u2"]), [
            "# <target name> <source device>",
            "other UUID=x none luks",
            "luks-u1 UUID=u1 none luks,discard",
            "luks-u2 UUID=u2 none luks,discard",
        ])
        self.assertEqual(target.crypttab_lines(None, ["u"]), ["luks-u UUID=u none luks,discard"])

    def test_swap_lines_from_calamares_partitions(self):
        parts = [
            {"fs": "ext4", "uuid": "r"},
            {"fs": "linuxswap", "uuid": "s1"},
            {"fs": "linuxswap", "uuid": "s2", "luksMapperName": "luks-swap", "luksUuid": "ABC-1"},
            {"fs": "linuxswap"},
            "junk",
        ]
        self.assertEqual(target.swap_fstab_lines(parts), [
            "UUID=s1 none swap defaults 0 0",
            "/dev/mapper/luks-abc-1 none swap defaults 0 0",
        ])
        self.assertEqual(target.swap_fstab_lines(None), [])

    def test_fstab_lines_append_once(self):
        self.assertEqual(target.fstab_lines(["a", "b"], ["b", "c"]), ["a", "b", "c"])
        self.assertEqual(target.text(target.fstab_lines(None, ["c"])), "c\n")


class WriteFileTest(unittest.TestCase):
    def test_replaces_a_symlink_instead_of_writing_through_it(self):
        with tempfile.TemporaryDirectory() as d:
            victim = os.path.join(d, "victim")
            with open(victim, "w", encoding="utf-8") as f:
                f.write("precious\n")
            os.makedirs(os.path.join(d, "etc"))
            link = os.path.join(d, "etc", "crypttab")
            os.symlink(victim, link)
            target.write_crypttab(d, ["u"])
            with open(victim, encoding="utf-8") as f:
                self.assertEqual(f.read(), "precious\n")
            self.assertFalse(os.path.islink(link))
            self.assertEqual(stat.S_IMODE(os.stat(link).st_mode), 0o600)
            with open(link, encoding="utf-8") as f:
                self.assertEqual(f.read(), "luks-u UUID=u none luks,discard\n")
            self.assertEqual(sorted(os.listdir(os.path.join(d, "etc"))), ["crypttab"])

    def test_keeps_the_mode_of_the_old_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "gshadow")
            with open(path, "w", encoding="utf-8") as f:
                f.write("root:*::\n")
            os.chmod(path, 0o640)
            target.write_file(path, "x\n")
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o640)
            target.write_file(os.path.join(d, "new"), "y\n")
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(d, "new")).st_mode), 0o644)

    def test_no_crypttab_without_luks(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertIsNone(target.write_crypttab(d, []))
            self.assertIsNone(target.add_fstab_lines(d, []))


class GroupPolicyTest(unittest.TestCase):
    ETC = ["root:x:0:", "users:x:100:", "render:x:990:"]
    IMAGE = ["root:x:0:", "wheel:x:10:", "sudo:x:27:alice", "docker:x:990:", "# comment:x:1:", "bad:x:5"]

    def test_copies_with_gid_when_free(self):
        gp = target.plan_groups(self.ETC, self.IMAGE, ["users", "wheel", "sudo"])
        self.assertEqual(gp.copy, ["wheel:x:10:", "sudo:x:27:alice"])
        self.assertEqual(gp.create, [])
        self.assertEqual(gp.notes, [])

    def test_a_taken_gid_is_never_shared(self):
        gp = target.plan_groups(self.ETC, self.IMAGE, ["docker"])
        self.assertEqual(gp.copy, [])
        self.assertEqual(gp.create, ["docker"])
        self.assertEqual(len(gp.notes), 1)
        self.assertIn("GID 990", gp.notes[0])

    def test_two_image_groups_with_one_gid(self):
        gp = target.plan_groups(["root:x:0:"], ["a:x:50:", "b:x:50:"], ["a", "b"])
        self.assertEqual(gp.copy, ["a:x:50:"])
        self.assertEqual(gp.create, ["b"])

    def test_unknown_malformed_and_duplicate_names(self):
        gp = target.plan_groups(self.ETC, self.IMAGE, ["nosuch", "bad", "nosuch", ""])
        self.assertEqual(gp.copy, [])
        self.assertEqual(gp.create, ["nosuch", "bad"])
        gp = target.plan_groups(self.ETC, None, ["wheel"])
        self.assertEqual(gp.create, ["wheel"])

    def test_copy_groups_writes_group_and_gshadow(self):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "etc"))
            os.makedirs(os.path.join(d, "usr", "lib"))
            files = {"etc/group": "\n".join(self.ETC) + "\n", "etc/gshadow": "root:*::\n",
                     "usr/lib/group": "\n".join(self.IMAGE) + "\n"}
            for rel, content in files.items():
                with open(os.path.join(d, rel), "w", encoding="utf-8") as f:
                    f.write(content)
            gp = target.copy_groups(d, ["sudo", "docker", "nosuch"])
            self.assertEqual(gp.create, ["docker", "nosuch"])
            with open(os.path.join(d, "etc/group"), encoding="utf-8") as f:
                self.assertEqual(f.read(), "root:x:0:\nusers:x:100:\nrender:x:990:\nsudo:x:27:alice\n")
            with open(os.path.join(d, "etc/gshadow"), encoding="utf-8") as f:
                self.assertEqual(f.read(), "root:*::\nsudo:!::alice\n")

    def test_copy_groups_without_etc_group(self):
        with tempfile.TemporaryDirectory() as d:
            gp = target.copy_groups(d, ["sudo"])
            self.assertEqual((gp.copy, gp.create), ([], []))
            self.assertIn("does not exist", gp.notes[0])


class DeploymentTest(unittest.TestCase):
    def test_find_exactly_one(self):
        with tempfile.TemporaryDirectory() as d:
            base = os.path.join(d, "ostree/deploy/os")
            with self.assertRaises(target.NoDeployment) as cm:
                target.find_deployment(d, "os")
            self.assertEqual(cm.exception.count, 0)
            os.makedirs(os.path.join(base, "deploy/abc.0"))
            self.assertEqual(target.find_deployment(d, "os"), (os.path.join(base, "deploy/abc.0"), os.path.join(base, "var")))
            os.symlink("abc.0", os.path.join(base, "deploy/def.0"))
            self.assertEqual(target.find_deployment(d, "os")[0], os.path.join(base, "deploy/abc.0"))
            os.makedirs(os.path.join(base, "deploy/def1.0"))
            with self.assertRaises(target.NoDeployment) as cm:
                target.find_deployment(d, "os")
            self.assertEqual(cm.exception.count, 2)

    def test_in_root_keeps_links_inside(self):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "usr/bin"))
            os.symlink("/usr/bin", os.path.join(d, "bin"))
            os.symlink("../../../../etc", os.path.join(d, "usr/bin/up"))
            self.assertEqual(target.in_root(d, "/bin/bash"), os.path.join(d, "usr/bin/bash"))
            self.assertEqual(target.in_root(d, "/bin/up/passwd"), os.path.join(d, "etc/passwd"))
            self.assertEqual(target.in_root(d, "/../../x"), os.path.join(d, "x"))

    def test_ensure_var_targets(self):
        with tempfile.TemporaryDirectory() as d:
            dep, var = os.path.join(d, "dep"), os.path.join(d, "var")
            os.makedirs(dep)
            os.makedirs(var)
            os.symlink("var/home", os.path.join(dep, "home"))
            os.symlink("var/roothome", os.path.join(dep, "root"))
            os.symlink("../escape", os.path.join(dep, "srv"))
            made = target.ensure_var_targets(dep, var)
            self.assertEqual(made, [os.path.join(var, "home"), os.path.join(var, "roothome")])
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(var, "roothome")).st_mode), 0o700)
            self.assertEqual(target.ensure_var_targets(dep, var), [])


class EnableTimerTest(unittest.TestCase):
    def test_links_the_image_timer_into_timers_target_wants(self):
        with tempfile.TemporaryDirectory() as d:
            unit = os.path.join(d, "usr/lib/systemd/system", target.AUTO_UPDATE_TIMER)
            os.makedirs(os.path.dirname(unit))
            open(unit, "w").close()
            self.assertTrue(target.enable_timer(d, target.AUTO_UPDATE_TIMER))
            link = os.path.join(d, "etc/systemd/system/timers.target.wants", target.AUTO_UPDATE_TIMER)
            self.assertEqual(os.readlink(link), "/usr/lib/systemd/system/atomiso-update.timer")
            # Again: the same link, no error (an install that is repeated on the same tree).
            self.assertTrue(target.enable_timer(d, target.AUTO_UPDATE_TIMER))
            self.assertEqual(os.readlink(link), "/usr/lib/systemd/system/atomiso-update.timer")

    def test_an_image_without_the_timer_changes_nothing(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertFalse(target.enable_timer(d, target.AUTO_UPDATE_TIMER))
            self.assertEqual(os.listdir(d), [])


class MaskGptAutoTest(unittest.TestCase):
    def test_links_the_generator_to_dev_null_in_etc(self):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "etc"))
            target.mask_gpt_auto(d)
            link = os.path.join(d, "etc/systemd/system-generators/systemd-gpt-auto-generator")
            self.assertEqual(os.readlink(link), "/dev/null")
            # Again (an install repeated on the same tree): the same link, no error.
            target.mask_gpt_auto(d)
            self.assertEqual(os.readlink(link), "/dev/null")

    def test_follows_an_etc_symlink_inside_the_deployment(self):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "usr/etc"))
            os.symlink("/usr/etc", os.path.join(d, "etc"))
            target.mask_gpt_auto(d)
            self.assertTrue(os.path.islink(os.path.join(d, "usr/etc/systemd/system-generators/systemd-gpt-auto-generator")))


if __name__ == "__main__":
    unittest.main()
