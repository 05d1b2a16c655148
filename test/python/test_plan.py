import json
import os
import tempfile
import unittest

from atomiso_live import plan as install_plan
from helpers import DIGEST, GOOD_PLAN, plan


def parse(p):
    return install_plan.parse(json.dumps(p), "/x/install.json")


class PlanTest(unittest.TestCase):
    def test_good_plan_is_returned_as_written(self):
        self.assertEqual(parse(GOOD_PLAN), GOOD_PLAN)

    def test_online_plan(self):
        p = parse(plan(payload={"mode": "online", "source": "reg.example/os@" + DIGEST, "tlsVerify": False}))
        self.assertEqual(install_plan.payload_args(p), ["--pull", "reg.example/os@" + DIGEST, "--tls-verify", "false"])
        self.assertEqual(install_plan.payload_source(p), "reg.example/os@" + DIGEST)

    def test_tls_verify_defaults_to_true(self):
        p = parse(plan(payload={"mode": "online", "source": "reg.example/os@" + DIGEST}))
        self.assertEqual(install_plan.tls_verify(p), "true")

    def test_embedded_payload_args_and_backend(self):
        p = parse(GOOD_PLAN)
        self.assertEqual(install_plan.payload_args(p), ["--layout", "/run/live/medium/atomiso/payload"])
        self.assertEqual(install_plan.backend_path(p), "/usr/lib/atomiso/deploy/ostree-deploy")
        self.assertEqual(install_plan.backend_path(parse(plan(backend="bootc"))), "/usr/lib/atomiso/deploy/bootc-deploy")

    def test_automatic_updates_for_ostree_only_and_off_by_default(self):
        self.assertFalse(install_plan.automatic_updates(parse(GOOD_PLAN)))
        self.assertFalse(install_plan.automatic_updates(parse(plan(image__autoUpdate=False))))
        self.assertTrue(install_plan.automatic_updates(parse(plan(image__autoUpdate=True))))
        # bootc systems update with bootc's own units.
        self.assertFalse(install_plan.automatic_updates(parse(plan(backend="bootc", image__autoUpdate=True))))

    def test_user_groups(self):
        p = parse(plan(users__groups=["users", "sudo", "audio"]))
        self.assertEqual(install_plan.user_groups(p), ["users", "sudo", "audio"])
        self.assertEqual(install_plan.user_groups(p, sudo=False), ["users", "sudo", "audio"])
        self.assertEqual(install_plan.user_groups(parse(GOOD_PLAN), sudo=False), ["users", "audio"])

    # Every refusal names the field.
    REFUSALS = [
        (dict(version=2), "version 2"),
        (dict(version=None), "version None"),
        (dict(product__name=""), "product.name"),
        (dict(product__version=None), "has no product.version"),
        (dict(backend="rpm-ostree"), 'unknown backend "rpm-ostree"'),
        (dict(image__digest="sha256:abc"), "image.digest"),
        (dict(image__digest="sha512:" + "ab" * 64), "image.digest"),
        (dict(image__reference=None), "has no image.reference"),
        (dict(payload={"mode": "floppy"}), 'unknown payload mode "floppy"'),
        (dict(payload={"mode": "embedded"}), "has no payload.layout"),
        (dict(payload={"mode": "embedded", "layout": "payload"}), "payload.layout"),
        (dict(payload={"mode": "online", "source": "reg.example/os:latest"}), "payload.source"),
        (dict(payload={"mode": "online", "source": "reg.example/os@" + DIGEST, "tlsVerify": "no"}), "payload.tlsVerify"),
        (dict(ostree__stateroot="../etc"), "ostree.stateroot"),
        (dict(ostree__ref=7), "ostree.ref"),
        (dict(kargs="quiet"), "kargs"),
        (dict(kargs=["quiet", "a;reboot"]), "kargs[1]"),
        (dict(kargs=["x\ny"]), "kargs[0]"),
        (dict(layout__efiMiB=0), "layout.efiMiB"),
        (dict(layout__bootMiB=True), "layout.bootMiB"),
        (dict(layout__filesystems=["zfs"]), "layout.filesystems"),
        (dict(layout__filesystem="btrfs"), "layout.filesystem"),
        (dict(layout__encryption="yes"), "layout.encryption"),
        (dict(image__autoUpdate="daily"), "image.autoUpdate"),
        (dict(users__groups=["users", 3]), "users.groups"),
        (dict(users__sudoGroup=None), "users.sudoGroup"),
        (dict(users__shell="bash"), "users.shell"),
        (dict(requirements__storageGiB="12"), "requirements.storageGiB"),
        (dict(requirements=None), "has no requirements.storageGiB"),
        (dict(scripts="deploy"), "scripts"),
    ]

    def test_every_refusal_names_the_field(self):
        for change, needle in self.REFUSALS:
            with self.subTest(change=change):
                with self.assertRaises(install_plan.PlanError) as cm:
                    parse(plan(**change))
                self.assertEqual(cm.exception.kind, "invalid")
                self.assertIn(needle, cm.exception.what)
                self.assertIn("/x/install.json", str(cm.exception))

    def test_not_an_object_and_not_json(self):
        with self.assertRaises(install_plan.PlanError) as cm:
            install_plan.parse("[1]")
        self.assertEqual(cm.exception.what, "is not a JSON object")
        with self.assertRaises(install_plan.PlanError) as cm:
            install_plan.parse("{")
        self.assertEqual(cm.exception.kind, "unreadable")

    def test_load_missing_and_present(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "install.json")
            with self.assertRaises(install_plan.PlanError) as cm:
                install_plan.load(path)
            self.assertEqual(cm.exception.kind, "missing")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(GOOD_PLAN, f)
            self.assertEqual(install_plan.load(path)["backend"], "ostree")

    def test_payload_cli_prints_the_check_inputs(self):
        import contextlib
        import io

        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "install.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(GOOD_PLAN, f)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                self.assertEqual(install_plan.main(["payload", path]), 0)
            self.assertEqual(out.getvalue(), "embedded /run/live/medium/atomiso/payload {} /usr/lib/atomiso/deploy true\n".format(DIGEST))
            with open(path, "w", encoding="utf-8") as f:
                json.dump(plan(image__digest="sha256:x"), f)
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                self.assertEqual(install_plan.main(["payload", path]), 1)
            self.assertIn("image.digest", err.getvalue())


if __name__ == "__main__":
    unittest.main()
