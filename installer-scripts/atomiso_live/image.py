"""A few files of the system image, read from the payload's OCI layers before the disk is
touched (the unattended installer checks the answer file against the image's own accounts
and time zones).

The layers are read from the top one down, as the image's file system stacks them: the first
layer that has a wanted path (or a whiteout of it or of a directory above it, or an opaque
directory above it) decides; reading stops as soon as every wanted path is decided, so an
image whose top layers carry /etc/passwd is read only that far. Layers are tar streams
(gzip-compressed ones decompressed by Python, zstd ones by `zstd -dcq`); nothing is written.
Only the payload's blobs are read, after verify-payload has checked them against the digest.
"""

import json
import os
import subprocess
import tarfile

GZIP_TYPES = ("tar+gzip", "tar.gzip")
ZSTD_TYPES = ("tar+zstd", "tar.zstd")


class ImageError(Exception):
    """The layout cannot be read as expected (a damaged or unexpected payload)."""


Absent = None


class Link:
    """A wanted path that is a symbolic or hard link in the image (its content is not read)."""

    def __init__(self, target):
        self.target = target

    def __eq__(self, other):
        return isinstance(other, Link) and other.target == self.target

    def __repr__(self):
        return "Link({!r})".format(self.target)


def _blob(layout, digest):
    algo, _, hexdigest = digest.partition(":")
    return os.path.join(layout, "blobs", algo, hexdigest)


def layers(layout, digest):
    """(media type, blob path) of the image's layers, bottom first, for the manifest digest."""
    try:
        with open(os.path.join(layout, "index.json"), encoding="utf-8") as f:
            index = json.load(f)
        if not any(m.get("digest") == digest for m in index.get("manifests", [])):
            raise ImageError("the payload {} has no manifest {}".format(layout, digest))
        with open(_blob(layout, digest), encoding="utf-8") as f:
            manifest = json.load(f)
        return [(l["mediaType"], _blob(layout, l["digest"])) for l in manifest["layers"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ImageError("cannot read the payload {} ({})".format(layout, e)) from None


def _norm(name):
    while name.startswith("./"):
        name = name[2:]
    return name.strip("/")


def _covers(path, wanted):
    return wanted == path or wanted.startswith(path + "/")


def _open_layer(media_type, blob):
    """(tar stream, process to wait for or None)."""
    if media_type.endswith(ZSTD_TYPES):
        p = subprocess.Popen(["zstd", "-dcq", blob], stdout=subprocess.PIPE)
        return tarfile.open(fileobj=p.stdout, mode="r|"), p
    mode = "r|gz" if media_type.endswith(GZIP_TYPES) else "r|"
    return tarfile.open(blob, mode=mode), None


def read_files(layout, digest, wanted, max_bytes=4 * 1024 * 1024):
    """{path: bytes | Link | None (absent)} for each wanted path (relative, e.g. "etc/passwd")."""
    pending = {_norm(w) for w in wanted}
    found = {}
    for media_type, blob in reversed(layers(layout, digest)):
        if not pending:
            break
        # Whiteouts ("path") and opaque directories ("dir/", "/" for the root) of this layer:
        # they hide the lower layers' files.
        hidden = set()
        try:
            tar, p = _open_layer(media_type, blob)
        except (OSError, tarfile.TarError) as e:
            raise ImageError("cannot read the layer {} ({})".format(blob, e)) from None
        try:
            for member in tar:
                name = _norm(member.name)
                base, parent = os.path.basename(name), os.path.dirname(name)
                if base == ".wh..wh..opq":
                    hidden.add(parent + "/" if parent else "/")
                    continue
                if base.startswith(".wh."):
                    hidden.add(os.path.join(parent, base[len(".wh."):]))
                    continue
                if name not in pending:
                    continue
                if member.isreg() and member.size <= max_bytes:
                    f = tar.extractfile(member)
                    found[name] = f.read() if f else b""
                elif member.issym() or member.islnk():
                    found[name] = Link(member.linkname)
                elif member.isdir():
                    found[name] = Absent  # a directory is not the wanted file
                else:
                    found[name] = Link("")  # too big or special: there, but not read
                pending.discard(name)
                if not pending:
                    break
        except (OSError, EOFError, tarfile.TarError) as e:
            raise ImageError("cannot read the layer {} ({})".format(blob, e)) from None
        finally:
            tar.close()
            if p is not None:
                p.stdout.close()
                p.kill()
                p.wait()
        for h in hidden:
            for w in list(pending):
                if h == "/" or (h.endswith("/") and w.startswith(h)) or (not h.endswith("/") and _covers(h, w)):
                    found[w] = Absent
                    pending.discard(w)
    for w in pending:
        found[w] = Absent
    return found
