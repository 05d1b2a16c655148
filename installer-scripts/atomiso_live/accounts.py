"""Answer-file rules about the installed system's accounts and time zone, checked before the
disk is touched: the full name (GECOS field), the time zone name, and the image's own
passwd/group files and zone files (read from the payload by atomiso_live.image)."""

import os
import re
import unicodedata

ZONEINFO = "/usr/share/zoneinfo"
# Files read from the image: where an ostree/bootc image keeps its accounts (/etc, and
# /usr/lib for nss-altfiles images).
ACCOUNT_FILES = ("etc/passwd", "usr/lib/passwd", "etc/group", "usr/lib/group")
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*")


def gecos_problem(text):
    """None when text can be a GECOS full name, else what is wrong. passwd(5) separates
    fields with ':' and chfn the GECOS subfields with ','; control characters (escape
    sequences included) and other invisible formatting characters would reach terminals and
    display managers that show the name."""
    if len(text) > 256:
        return "is longer than 256 characters"
    for c in text:
        if c in ":,=":
            return "contains {!r} (passwd and chfn use it as a separator)".format(c)
        if unicodedata.category(c).startswith("C") or c in "\u2028\u2029":
            return "contains the control or formatting character U+{:04X}".format(ord(c))
    return None


def zone_names(zoneinfo=ZONEINFO):
    """The zone and link names tzdata defines (tzdata.zi), or None when it has no such file."""
    try:
        with open(os.path.join(zoneinfo, "tzdata.zi"), encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    names = set()
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "Z":
            names.add(fields[1])
        elif len(fields) >= 3 and fields[0] == "L":
            names.add(fields[2])
    return names


def zone_problem(tz, zoneinfo=ZONEINFO):
    """None when tz names a time zone, else what is wrong. A zone is what tzdata's tzdata.zi
    lists as a zone or link (so not leapseconds, posixrules, a directory or a table), and its
    file is a TZif file. Without any zoneinfo here only the name's form is checked."""
    if not _ZONE_NAME.fullmatch(tz) or ".." in tz.split("/"):
        return "is not a time zone name"
    names = zone_names(zoneinfo)
    if names is None and not os.path.isdir(zoneinfo):
        return None  # a live system without tzdata: the image's own zone file decides
    if names is not None and tz not in names:
        return "is not a known time zone"
    path = os.path.join(zoneinfo, tz)
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except (IsADirectoryError, FileNotFoundError, NotADirectoryError):
        return "is not a known time zone"
    except OSError:
        return None if names is not None else "is not a known time zone"
    if magic != b"TZif":
        return "is not a known time zone"
    return None


def image_zone_problem(tz, entry):
    """entry: what atomiso_live.image found at usr/share/zoneinfo/<tz> in the image."""
    if entry is None:
        return "the image has no /usr/share/zoneinfo/{} (add tzdata to the image or choose another zone)".format(tz)
    if isinstance(entry, bytes) and not entry.startswith(b"TZif"):
        return "/usr/share/zoneinfo/{} in the image is not a time zone file".format(tz)
    return None


def account_uses(name, files):
    """Where the image already uses name as a user or group: ["/etc/passwd (user)", ...].
    files: {relative path: bytes | other (unreadable) | None} for ACCOUNT_FILES."""
    found = []
    for rel in ACCOUNT_FILES:
        content = files.get(rel)
        if not isinstance(content, bytes):
            continue
        for line in content.decode("utf-8", "replace").splitlines():
            if line.split(":", 1)[0] == name:
                found.append("/{} ({})".format(rel, "user" if rel.endswith("passwd") else "group"))
                break
    return found
