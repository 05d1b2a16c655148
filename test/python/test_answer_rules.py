import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
import unittest

from atomiso_live import accounts, image

TZIF = b"TZif2" + b"\0" * 40


class GecosTest(unittest.TestCase):
    def test_plain_names(self):
        for name in ("", "Alice Liddell", "Jürgen Groß-Müller", "李小龙", "O'Brien (admin)"):
            self.assertIsNone(accounts.gecos_problem(name), name)

    def test_refused(self):
        for name in ("a,b", "a:b", "a=b", "a\nb", "a\x1b[31m", "a\x00", "a\x7f", "a\u202eb", "a\u2028b", "x" * 257):
            self.assertIsNotNone(accounts.gecos_problem(name), repr(name))


class ZoneTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.z = self.tmp.name
        os.makedirs(os.path.join(self.z, "Europe"))
        for rel, data in (("Europe/Berlin", TZIF), ("posixrules", TZIF), ("leapseconds", b"# leap\n"),
                          ("Etc/UTC", TZIF)):
            os.makedirs(os.path.dirname(os.path.join(self.z, rel)), exist_ok=True)
            with open(os.path.join(self.z, rel), "wb") as f:
                f.write(data)
        os.symlink("Etc/UTC", os.path.join(self.z, "UTC"))

    def tearDown(self):
        self.tmp.cleanup()

    def write_zi(self):
        with open(os.path.join(self.z, "tzdata.zi"), "w", encoding="utf-8") as f:
            f.write("# version\nZ Europe/Berlin 0:53:28 - LMT 1893 Ap\nZ Etc/UTC 0 - UTC\nL Etc/UTC UTC\n")

    def test_with_tzdata_zi(self):
        self.write_zi()
        for tz in ("Europe/Berlin", "UTC", "Etc/UTC"):
            self.assertIsNone(accounts.zone_problem(tz, self.z), tz)
        for tz in ("posixrules", "leapseconds", "Europe", "Asia/Tokyo", "tzdata.zi", "../x", "Europe/../UTC", "/UTC", ""):
            self.assertIsNotNone(accounts.zone_problem(tz, self.z), tz)

    def test_without_tzdata_zi_the_file_must_be_tzif(self):
        self.assertIsNone(accounts.zone_problem("Europe/Berlin", self.z))
        self.assertIsNone(accounts.zone_problem("UTC", self.z))
        for tz in ("leapseconds", "Europe", "Asia/Tokyo"):
            self.assertIsNotNone(accounts.zone_problem(tz, self.z), tz)

    def test_without_zoneinfo_only_the_form_is_checked(self):
        missing = os.path.join(self.z, "nothing-here")
        self.assertIsNone(accounts.zone_problem("Europe/Berlin", missing))
        self.assertIsNotNone(accounts.zone_problem("../etc", missing))

    def test_image_zone(self):
        self.assertIsNone(accounts.image_zone_problem("UTC", image.Link("Etc/UTC")))
        self.assertIsNone(accounts.image_zone_problem("Europe/Berlin", TZIF))
        self.assertIn("has no", accounts.image_zone_problem("Asia/Tokyo", None))
        self.assertIn("not a time zone file", accounts.image_zone_problem("leapseconds", b"# leap"))


class AccountsTest(unittest.TestCase):
    def test_account_uses(self):
        files = {"etc/passwd": b"root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
                 "usr/lib/passwd": None, "etc/group": b"alice:x:1000:\n", "usr/lib/group": image.Link("x")}
        self.assertEqual(accounts.account_uses("alice", files), ["/etc/passwd (user)", "/etc/group (group)"])
        self.assertEqual(accounts.account_uses("ali", files), [])
        self.assertEqual(accounts.account_uses("bob", {}), [])


def _tar(entries):
    """entries: (name, bytes | ("sym", target) | "dir")"""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data == "dir":
                info.type = tarfile.DIRTYPE
                t.addfile(info)
            elif isinstance(data, tuple):
                info.type, info.linkname = tarfile.SYMTYPE, data[1]
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_layout(d, layers):
    """layers: bottom first, each (gzip?, tar bytes). Returns the manifest digest."""
    blobs = os.path.join(d, "blobs", "sha256")
    os.makedirs(blobs)

    def blob(data):
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, h), "wb") as f:
            f.write(data)
        return "sha256:" + h

    descs = []
    for gz, data in layers:
        data = gzip.compress(data) if gz else data
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gz else ""), "digest": blob(data), "size": len(data)})
    manifest = blob(json.dumps({"schemaVersion": 2, "layers": descs}).encode())
    with open(os.path.join(d, "index.json"), "w", encoding="utf-8") as f:
        json.dump({"manifests": [{"digest": manifest}]}, f)
    return manifest


class ImageTest(unittest.TestCase):
    def test_upper_layers_win_and_whiteouts_hide(self):
        with tempfile.TemporaryDirectory() as d:
            digest = make_layout(d, [
                (True, _tar([("etc/passwd", b"old\n"), ("./usr/lib/group", b"g\n"), ("usr/share/zoneinfo/UTC", TZIF),
                             ("opt/x/y", b"y"), ("srv/file", b"s"), ("etc/group", b"base\n")])),
                (False, _tar([("./etc/passwd", b"new\n"), ("usr/lib/.wh.group", b""), ("opt/x/.wh..wh..opq", b""),
                              ("srv", ("sym", "var/srv")), ("etc/group", "dir")])),
            ])
            found = image.read_files(d, digest, ["etc/passwd", "usr/lib/group", "usr/share/zoneinfo/UTC",
                                                 "opt/x/y", "srv", "etc/group", "nowhere"])
            self.assertEqual(found, {
                "etc/passwd": b"new\n",
                "usr/lib/group": None,
                "usr/share/zoneinfo/UTC": TZIF,
                "opt/x/y": None,
                "srv": image.Link("var/srv"),
                "etc/group": None,
                "nowhere": None,
            })

    def test_a_whiteout_of_a_parent_hides_the_file(self):
        with tempfile.TemporaryDirectory() as d:
            digest = make_layout(d, [(True, _tar([("etc/passwd", b"x\n")])), (True, _tar([(".wh.etc", b"")]))])
            self.assertEqual(image.read_files(d, digest, ["etc/passwd"]), {"etc/passwd": None})

    def test_wrong_digest_and_damaged_layer(self):
        with tempfile.TemporaryDirectory() as d:
            digest = make_layout(d, [(True, b"not a gzip stream")])
            with self.assertRaises(image.ImageError):
                image.read_files(d, "sha256:" + "0" * 64, ["etc/passwd"])
            with self.assertRaises(image.ImageError):
                image.read_files(d, digest, ["etc/passwd"])


if __name__ == "__main__":
    unittest.main()
