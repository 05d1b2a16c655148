#!/usr/bin/env python3
# atomisoumount: the Calamares job that undoes atomisodeploy's bind mounts.
#
# Why it exists: atomisodeploy binds /var, /boot, /boot/efi, /sysroot, /dev, /proc, /sys,
# /run and a read-only /usr into the new ostree deployment and points globalstorage
# rootMountPoint at it, so the stock modules write into the deployment. Calamares' own umount
# module unmounts whatever is below rootMountPoint and then rootMountPoint itself, which must
# be the physical root again. This job unmounts everything recorded in atomisoMounts, in
# reverse order (umount -R; lazily with a warning when busy), and restores rootMountPoint from
# atomisoOriginalRoot. It is an emergency job (module.desc and its .conf say
# `emergency: true`), so it also runs after a failed job, and it does nothing when nothing is
# recorded. It never deletes anything.

import os
import re
import subprocess

import libcalamares


def pretty_name():
    return "Releasing the installed system."


def _gs_value(key):
    gs = libcalamares.globalstorage
    return gs.value(key) if gs.contains(key) else None


def _unescape(field):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def is_mount_point(path):
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return any(_unescape(line.split(" ")[4]) == path for line in f if line.strip())


def _cmd(argv):
    r = subprocess.run(argv, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        out = (r.stderr or r.stdout).strip().splitlines()
        return out[-1] if out else "exit status {}".format(r.returncode)
    return None


def run():
    gs = libcalamares.globalstorage
    mounts = _gs_value("atomisoMounts")
    if not isinstance(mounts, list):
        mounts = []
    left = []
    for target in reversed([m for m in mounts if isinstance(m, str) and m]):
        if not is_mount_point(target):
            continue
        why = _cmd(["umount", "-R", target])
        if why is None:
            libcalamares.utils.debug("atomisoumount: unmounted {}".format(target))
            continue
        libcalamares.utils.warning("atomisoumount: {} is busy ({}); detaching it lazily".format(target, why))
        why = _cmd(["umount", "-R", "-l", target])
        if why is not None and is_mount_point(target):
            left.append("{} ({})".format(target, why))
    gs.insert("atomisoMounts", [m for m in mounts if isinstance(m, str) and m and is_mount_point(m)])

    original = _gs_value("atomisoOriginalRoot")
    if isinstance(original, str) and original:
        gs.insert("rootMountPoint", original)
        libcalamares.utils.debug("atomisoumount: rootMountPoint is {} again".format(original))

    libcalamares.job.setprogress(1.0)
    if left:
        return (
            "Cannot release the installed system",
            "These mounts in the new system could not be unmounted: {}. The disk is still in "
            "use: restart the computer before removing or reusing it.".format(", ".join(left)),
        )
    return None
