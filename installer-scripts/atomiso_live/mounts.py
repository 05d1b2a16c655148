"""The mount table (/proc/self/mountinfo) and unmounting."""

import os
import re

from . import proc


def unescape(field):
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text):
    """(major:minor, source, mount point) for each line of a mountinfo text."""
    out = []
    for line in text.splitlines():
        fields = line.split(" ")
        if "-" not in fields or len(fields) < 5:
            continue
        sep = fields.index("-")
        source = fields[sep + 2] if len(fields) > sep + 2 else ""
        out.append((fields[2], unescape(source), unescape(fields[4])))
    return out


def mounts():
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        return parse_mountinfo(f.read())


def mount_points():
    return [mp for _, _, mp in mounts()]


def is_mount_point(path):
    return os.path.realpath(path) in set(mount_points())


def unmount(path, warn=None):
    """umount -R, then lazily if busy (warn(text) says so). None, or why it failed."""
    if not is_mount_point(path):
        return None
    why = proc.failure(["umount", "-R", path])
    if why is None:
        return None
    if warn:
        warn("{} is busy ({}); detaching it lazily".format(path, why))
    why = proc.failure(["umount", "-R", "-l", path])
    if why is None or not is_mount_point(path):
        return None
    return why
