"""Free space on a FAT file system (an existing EFI system partition), read without mounting.

The installer must know whether a reused ESP has room for the new boot loader before it writes
anything, also in `atomiso-install check`, which mounts nothing: so the first FAT is read and
its free clusters counted (the FSInfo sector's free count is only a hint that Windows and
Linux leave stale). FAT12, FAT16 and FAT32.

  free_bytes(read)   read(offset, length) -> bytes of the partition; returns (free, total) bytes
"""

import struct


class NotFat(ValueError):
    """The boot sector is not a FAT file system's."""


def free_bytes(read):
    bs = read(0, 512)
    if len(bs) < 512 or bs[510:512] != b"\x55\xaa":
        raise NotFat("no boot sector signature")
    bps, spc, reserved, nfats, root_entries, total16 = struct.unpack_from("<HBHBHH", bs, 11)
    fat16 = struct.unpack_from("<H", bs, 22)[0]
    total32, fat32 = struct.unpack_from("<II", bs, 32)
    if bps not in (512, 1024, 2048, 4096) or spc == 0 or spc & (spc - 1) or nfats == 0 or reserved == 0:
        raise NotFat("the boot sector's geometry is not FAT's")
    fat_sectors = fat16 or fat32
    total = total16 or total32
    root_sectors = (root_entries * 32 + bps - 1) // bps
    data = total - (reserved + nfats * fat_sectors + root_sectors)
    if fat_sectors == 0 or data <= 0:
        raise NotFat("the boot sector's sizes are not FAT's")
    clusters = data // spc
    fat = read(reserved * bps, fat_sectors * bps)
    free = 0
    if clusters < 4085:  # FAT12: 12-bit entries, two in three bytes
        for c in range(2, clusters + 2):
            off = c + c // 2
            v = struct.unpack_from("<H", fat, off)[0]
            free += ((v >> 4) if c & 1 else (v & 0xFFF)) == 0
    elif clusters < 65525:  # FAT16
        entries = struct.unpack_from(f"<{clusters + 2}H", fat, 0)
        free = sum(1 for v in entries[2:] if v == 0)
    else:  # FAT32: the top 4 bits are reserved
        entries = struct.unpack_from(f"<{clusters + 2}I", fat, 0)
        free = sum(1 for v in entries[2:] if v & 0x0FFFFFFF == 0)
    cluster = bps * spc
    return free * cluster, clusters * cluster


def free_bytes_of(path):
    """free_bytes of a device or image file."""
    with open(path, "rb") as f:
        def read(offset, length):
            f.seek(offset)
            return f.read(length)
        return free_bytes(read)
