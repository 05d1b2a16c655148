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
# recorded. It never deletes anything. The mount table reading is atomiso_live.mounts.

import libcalamares
from atomiso_live import mounts


def pretty_name():
    return "Releasing the installed system."


def _gs_value(key):
    gs = libcalamares.globalstorage
    return gs.value(key) if gs.contains(key) else None


def run():
    gs = libcalamares.globalstorage
    recorded = _gs_value("atomisoMounts")
    if not isinstance(recorded, list):
        recorded = []
    left = []
    for dest in reversed([m for m in recorded if isinstance(m, str) and m]):
        if not mounts.is_mount_point(dest):
            continue
        why = mounts.unmount(dest, lambda m: libcalamares.utils.warning("atomisoumount: " + m))
        if why is None:
            libcalamares.utils.debug("atomisoumount: unmounted {}".format(dest))
        else:
            left.append("{} ({})".format(dest, why))
    gs.insert("atomisoMounts", [m for m in recorded if isinstance(m, str) and m and mounts.is_mount_point(m)])

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
