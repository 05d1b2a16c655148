"""Shrinking a file system to make room ([disk] mode = "shrink"): the commands and their output.

Pure: argv lists and parsers; the installer runs them. Every file system is checked read-only
first (before the disk changes), then shrunk, and only then is its partition made smaller:

  ntfs   ntfsresize --no-action --size N (checks consistency, refuses a hibernated or dirty
         volume: start Windows and shut it down fully, fast startup off), then ntfsresize
         --size N, answering its question with "y" on stdin. Windows runs chkdsk once.
  ext4   e2fsck -f -n (read-only) and resize2fs -P (the smallest size), then e2fsck -f -p
         and resize2fs DEV <KiB>K (ext2 and ext3 alike)
  btrfs  mounted (in the installer's private mount namespace): btrfs inspect-internal
         min-dev-size read-only, then btrfs filesystem resize <devid>:<bytes>
  xfs    cannot shrink (refused); other file systems are not shrunk by the installer.

  problem(fs)                  None, or why a file system of type fs (blkid TYPE) cannot shrink
  tools(fs)                    the programs that needs
  ntfs_check_argv / ntfs_resize_argv (+ NTFS_ANSWER on stdin)
  ext_check_argv / ext_min_argv / ext_min_bytes(resize2fs -P out, dumpe2fs -h out)
  ext_repair_argv / ext_resize_argv
  btrfs_min_argv / btrfs_min_bytes(out) / btrfs_devid(dump-super out) / btrfs_resize_argv
"""

import re

EXT = ("ext2", "ext3", "ext4")
SHRINKABLE = ("ntfs", "btrfs") + EXT
NTFS_ANSWER = "y\n"


def problem(fs):
    if fs in SHRINKABLE:
        return None
    if fs == "xfs":
        return "is xfs, which cannot be made smaller"
    if not fs:
        return "has no file system the installer recognises (blkid finds none)"
    if fs == "crypto_LUKS":
        return "is encrypted (LUKS); shrink it from the system that uses it"
    return f"is {fs}; the installer shrinks only {', '.join(SHRINKABLE)}"


def tools(fs):
    """The programs shrinking fs needs (the live system must have them: ntfs-3g, e2fsprogs,
    btrfs-progs)."""
    if fs == "ntfs":
        return ["ntfsresize"]
    if fs in EXT:
        return ["e2fsck", "resize2fs", "dumpe2fs"]
    return ["btrfs"]


def ntfs_check_argv(dev, new_bytes):
    return ["ntfsresize", "--no-action", "--size", str(new_bytes), dev]


def ntfs_resize_argv(dev, new_bytes):
    return ["ntfsresize", "--size", str(new_bytes), dev]


def ext_check_argv(dev):
    return ["e2fsck", "-f", "-n", dev]


def ext_min_argv(dev):
    return ["resize2fs", "-P", dev]


def ext_block_argv(dev):
    return ["dumpe2fs", "-h", dev]


def ext_min_bytes(resize2fs_p, dumpe2fs_h):
    """The smallest size resize2fs estimates, in bytes (its estimate is in file system blocks)."""
    m = re.search(r"Estimated minimum size of the filesystem:\s*(\d+)", resize2fs_p)
    b = re.search(r"^Block size:\s*(\d+)", dumpe2fs_h, re.M)
    if not m or not b:
        raise ValueError("cannot read the minimum size (resize2fs -P) or the block size (dumpe2fs -h)")
    return int(m.group(1)) * int(b.group(1))


def ext_repair_argv(dev):
    # -p: fixes only what is safe without questions; exit status 1 means it fixed something.
    return ["e2fsck", "-f", "-p", dev]


def ext_resize_argv(dev, new_bytes):
    return ["resize2fs", dev, f"{new_bytes // 1024}K"]


def btrfs_min_argv(mount_point):
    return ["btrfs", "inspect-internal", "min-dev-size", mount_point]


def btrfs_min_bytes(out):
    m = re.match(r"\s*(\d+) bytes", out)
    if not m:
        raise ValueError("cannot read btrfs inspect-internal min-dev-size")
    return int(m.group(1))


def btrfs_dump_super_argv(dev):
    return ["btrfs", "inspect-internal", "dump-super", dev]


def btrfs_devid(dump_super):
    """The device's devid and how many devices the file system has (dump-super)."""
    d = re.search(r"^dev_item\.devid\s+(\d+)", dump_super, re.M)
    n = re.search(r"^num_devices\s+(\d+)", dump_super, re.M)
    if not d or not n:
        raise ValueError("cannot read the devid (btrfs inspect-internal dump-super)")
    return int(d.group(1)), int(n.group(1))


def btrfs_resize_argv(mount_point, devid, new_bytes):
    return ["btrfs", "filesystem", "resize", f"{devid}:{new_bytes}", mount_point]
