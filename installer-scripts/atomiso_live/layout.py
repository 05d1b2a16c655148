"""Partition planning for the unattended installer, from `sfdisk --json` output. Pure: no I/O.

Every answer-file disk mode becomes a list of partitions with the same keys the "Erase disk"
layout always had (role, n, mib, type, fs, label, mount, name, luks) plus, outside the
whole-disk modes, where each new one goes (start, size in sectors) and which existing ones
are kept as they are (keep = True: an EFI system partition or BIOS boot partition that is
reused, never formatted).

  parse_table(json_text, disk_bytes)       the table: label, sector size, usable range, partitions
  free_regions(table)                      the unpartitioned regions, 1 MiB aligned
  whole_disk(lay, fw, fs, ...)             erase and layout modes: a new GPT over the whole disk
  explicit(lay, fw, entries, encrypt)      layout mode: [[disk.partitions]] as a whole-disk layout
  into_region(table, region, lay, fw, ...) free-space, shrink, replace: new partitions in region
  shrunk(table, number, by_bytes)          the table with one partition made smaller
  without(table, number)                   the table with one partition deleted
  append_script(table, parts, disk)        the sfdisk --append script for into_region's partitions

PlanError carries the answer-file key a refusal is about.
"""

import copy
import json
import re

from . import gpt

MiB = 1024 * 1024
GiB = 1024 * MiB
# Linux /home partition type (the Discoverable Partitions Specification).
HOME = "933AC7E1-2EB4-4F13-B844-0E14E2AEF915"
# MBR (dos) types: EFI system, Linux, extended (CHS, LBA, Linux).
DOS_ESP, DOS_LINUX, DOS_EXTENDED = "ef", "83", ("5", "f", "85")
# Existing partitions the installer must never delete or shrink to make room: every other
# system's boot loaders are on the ESP; the BIOS boot partition holds GRUB's core image.
PROTECTED = {gpt.ESP.lower(): "the EFI system partition (every system's boot loaders)",
             gpt.BIOS_BOOT.lower(): "a BIOS boot partition", DOS_ESP: "the EFI system partition (every system's boot loaders)"}
for _t in DOS_EXTENDED:
    PROTECTED[_t] = "an extended partition (it holds logical partitions)"


class PlanError(Exception):
    """A layout that cannot be made: key names the answer-file key, hint what to do."""

    def __init__(self, key, what, hint):
        super().__init__(f"{key}: {what}; {hint}")
        self.key, self.what, self.hint = key, what, hint


# ---------------------------------------------------------------- the table


def number_of(node):
    m = re.search(r"(\d+)$", node or "")
    if not m:
        raise ValueError(f"cannot tell the partition number of {node!r}")
    return int(m.group(1))


def parse_table(json_text, disk_bytes):
    """sfdisk --json text as {label, sector, first, last, max_parts, partitions[]}, each
    partition {n, node, start, size, type (lower case), name}. disk_bytes: the disk's size (MBR
    has no lastlba)."""
    t = json.loads(json_text)["partitiontable"]
    label = t.get("label")
    if label not in ("gpt", "dos"):
        raise ValueError(f"unknown partition table type {label!r}")
    sector = int(t.get("sectorsize", 512))
    parts = []
    for p in t.get("partitions", []):
        parts.append({"n": number_of(p["node"]), "node": p["node"], "start": int(p["start"]), "size": int(p["size"]),
                      "type": str(p["type"]).lower(), "name": p.get("name", "")})
    parts.sort(key=lambda p: p["start"])
    if label == "gpt":
        first, last = int(t["firstlba"]), int(t["lastlba"])
        max_parts = int(t.get("table-length", 128))
    else:
        first, last, max_parts = 1, disk_bytes // sector - 1, 4
    return {"label": label, "sector": sector, "first": first, "last": last, "max_parts": max_parts, "partitions": parts}


def _align_up(x, a):
    return -(-x // a) * a


def free_regions(table):
    """Unpartitioned (start, size) regions in sectors, start and size whole MiB, each at least
    1 MiB, in disk order. On MBR only the primary level counts (logical partitions live inside
    the extended one, which is never free)."""
    align = MiB // table["sector"]
    parts = [p for p in table["partitions"] if table["label"] == "gpt" or p["n"] <= 4]
    out = []
    pos = max(table["first"], align)
    for p in parts + [{"start": table["last"] + 1, "size": 0}]:
        start = _align_up(pos, align)
        end = (p["start"] // align) * align  # exclusive
        if end - start >= align:
            out.append((start, end - start))
        pos = max(pos, p["start"] + p["size"])
    return out


def find(table, kind):
    """The first existing partition of a kind: "esp" or "bios-boot" (None when there is none)."""
    want = {"esp": (gpt.ESP.lower(), DOS_ESP), "bios-boot": (gpt.BIOS_BOOT.lower(),)}[kind]
    return next((p for p in table["partitions"] if p["type"] in want), None)


def partition(table, device_number, key):
    """The existing partition with that number, or a PlanError naming key."""
    p = next((p for p in table["partitions"] if p["n"] == device_number), None)
    if p is None:
        raise PlanError(key, f"the disk has no partition {device_number}", "name one of its partitions (lsblk lists them)")
    return p


def _protected(p, key, doing):
    why = PROTECTED.get(p["type"])
    if why:
        raise PlanError(key, f"{p['node']} is {why}: the installer never {doing} it", "name a data partition")


def shrunk(table, number, by_bytes, key="disk.shrink_by_gib"):
    """(new table, new size in sectors): partition number shrunk by by_bytes, its end on a MiB
    boundary (it keeps its start)."""
    t = copy.deepcopy(table)
    p = partition(t, number, "disk.shrink_partition")
    _protected(p, "disk.shrink_partition", "shrinks")
    align = MiB // t["sector"]
    new_end = ((p["start"] + p["size"] - by_bytes // t["sector"]) // align) * align
    if new_end - p["start"] < align:
        raise PlanError(key, f"{p['node']} has {p['size'] * t['sector'] / GiB:.1f} GiB, it cannot give {by_bytes / GiB:g} GiB",
                        "give a smaller shrink_by_gib")
    p["size"] = new_end - p["start"]
    return t, p["size"]


def without(table, number, key="disk.replace_partition"):
    """The table without partition number (refused for the ESP, BIOS boot and extended ones)."""
    t = copy.deepcopy(table)
    p = partition(t, number, key)
    _protected(p, key, "deletes")
    t["partitions"] = [q for q in t["partitions"] if q is not p]
    return t


def region_at(table, sector):
    """The free region that contains sector (or starts within the MiB after it)."""
    align = MiB // table["sector"]
    for start, size in free_regions(table):
        if start <= sector + align and sector < start + size:
            return start, size
    return None


def largest_region(table):
    regions = free_regions(table)
    return max(regions, key=lambda r: r[1]) if regions else None


# ---------------------------------------------------------------- the layouts


def _part(role, mib, fs, label, mount, name, type_, luks=False):
    return {"role": role, "mib": mib, "type": type_, "fs": fs, "label": label, "mount": mount, "name": name, "luks": luks}


def whole_disk(lay, fw, fs, encrypt=False, boot=True, home_mib=None, boot_fs="ext4", home_fs=None):
    """The "Erase disk" layout: [ESP], BIOS boot, [/boot], root (the rest; LUKS2 when
    encrypted, /boot stays unencrypted), with [/var/home] before the root. With the defaults exactly the
    layout the installer always made."""
    parts = []
    if fw == "efi":
        parts.append(_part("esp", lay["efiMiB"], "vfat", "EFI", "/boot/efi", "EFI", gpt.ESP))
    parts.append(_part("bios-boot", lay["biosBootMiB"], None, None, None, "bios_grub", gpt.BIOS_BOOT))
    if boot:
        parts.append(_part("boot", lay["bootMiB"] if boot is True else boot, boot_fs, "boot", "/boot", "boot", gpt.LINUX))
    if home_mib:
        # Before the root: sfdisk gives "the rest" only to the last partition.
        parts.append(_part("home", home_mib, home_fs or fs, "home", "/var/home", "home", HOME))
    parts.append(_part("root", None, fs, "root", "/", "root", gpt.ROOT_X86_64, encrypt))
    for i, p in enumerate(parts, 1):
        p["n"] = i
    return parts


def explicit(lay, fw, entries, encrypt=False):
    """layout mode: entries are [[disk.partitions]] ({mount, filesystem, size_gib?}), already
    validated (one "/", at most one of each mount, exactly one without size_gib)."""
    by = {e["mount"]: e for e in entries}
    rest = next(e for e in entries if e.get("size_gib") is None)

    def mib(e):
        return None if e is rest else int(round(e["size_gib"] * 1024))

    parts = []
    if fw == "efi":
        parts.append(_part("esp", lay["efiMiB"], "vfat", "EFI", "/boot/efi", "EFI", gpt.ESP))
    parts.append(_part("bios-boot", lay["biosBootMiB"], None, None, None, "bios_grub", gpt.BIOS_BOOT))
    order = [("/boot", "boot", gpt.LINUX), ("/", "root", gpt.ROOT_X86_64), ("/var/home", "home", HOME)]
    fixed = [o for o in order if o[0] in by and by[o[0]] is not rest]
    last = [o for o in order if o[0] in by and by[o[0]] is rest]
    for mount, role, type_ in fixed + last:
        e = by[mount]
        parts.append(_part(role, mib(e), e["filesystem"], role, mount, role, type_, encrypt and role == "root"))
    for i, p in enumerate(parts, 1):
        p["n"] = i
    return parts


def required_mib(lay, need_gib, boot=True, home_mib=None, esp=True, bios_boot=True):
    """What new partitions need in a region: the fixed ones, and the root at least rootMinGiB
    (and the plan's storage requirement over all of them)."""
    fixed = (lay["efiMiB"] if esp else 0) + (lay["biosBootMiB"] if bios_boot else 0)
    fixed += (lay["bootMiB"] if boot else 0) + (home_mib or 0)
    return max(fixed + lay["rootMinGiB"] * 1024, need_gib * 1024)


def into_region(table, region, lay, fw, fs, need_gib, encrypt=False, boot=True, home_mib=None, key="disk.mode"):
    """New partitions in region (start, size in sectors) beside the existing ones: an existing
    ESP (UEFI) and BIOS boot partition are kept, missing ones made; then [/boot], root, [home].
    PlanError when the region is missing or too small, or the table has no free entries."""
    if region is None:
        raise PlanError(key, "the disk has no unpartitioned space", "shrink a partition (mode = \"shrink\") or replace one (mode = \"replace\")")
    sector, dos = table["sector"], table["label"] == "dos"
    mib_s = MiB // sector
    esp = find(table, "esp") if fw == "efi" else None
    # GRUB for BIOS needs a BIOS boot partition on GPT (as the whole-disk layout always has);
    # on MBR it lives in the gap before the first partition.
    bios = find(table, "bios-boot") if not dos else None
    want_esp, want_bios = fw == "efi" and esp is None, not dos and bios is None
    need = required_mib(lay, need_gib, boot, home_mib, want_esp, want_bios)
    have = region[1] // mib_s
    if have < need:
        raise PlanError(key, f"the free space is {have / 1024:.1f} GiB, the installation needs {need / 1024:.1f} GiB",
                        "free more space (a larger shrink_by_gib, another partition to replace) or choose another disk")
    t_esp, t_linux, t_root = (DOS_ESP, DOS_LINUX, DOS_LINUX) if dos else (gpt.ESP, gpt.LINUX, gpt.ROOT_X86_64)
    t_home = DOS_LINUX if dos else HOME
    new = []
    if want_esp:
        new.append(_part("esp", lay["efiMiB"], "vfat", "EFI", "/boot/efi", "EFI", t_esp))
    if want_bios:
        new.append(_part("bios-boot", lay["biosBootMiB"], None, None, None, "bios_grub", gpt.BIOS_BOOT))
    if boot:
        new.append(_part("boot", lay["bootMiB"], "ext4", "boot", "/boot", "boot", t_linux))
    root = _part("root", None, fs, "root", "/", "root", t_root, encrypt)
    new.append(root)
    if home_mib:
        new.append(_part("home", home_mib, fs, "home", "/var/home", "home", t_home))
    used = {p["n"] for p in table["partitions"]}
    free_numbers = [n for n in range(1, table["max_parts"] + 1) if n not in used]
    if len(free_numbers) < len(new):
        raise PlanError(key, f"the partition table has room for {len(free_numbers)} more partition(s), the installation makes {len(new)}",
                        "on MBR at most 4 primary partitions: use a GPT disk or replace a partition")
    fixed = sum(p["mib"] for p in new if p["mib"])
    root["mib"] = have - fixed
    pos = region[0]
    for p, n in zip(new, free_numbers):
        p["n"], p["start"], p["size"] = n, pos, p["mib"] * mib_s
        pos += p["size"]
    out = []
    if esp is not None:
        out.append({**_part("esp", None, "vfat", None, "/boot/efi", None, esp["type"]), "n": esp["n"], "keep": True,
                    "start": esp["start"], "size": esp["size"]})
    if bios is not None:
        out.append({**_part("bios-boot", None, None, None, None, None, bios["type"]), "n": bios["n"], "keep": True,
                    "start": bios["start"], "size": bios["size"]})
    return out + new


def append_script(table, parts, disk_node):
    """The sfdisk --append script that adds the new partitions of into_region at their places
    (kept ones are left out). disk_node: the disk as sfdisk names it (partition nodes are
    derived from it the way the kernel names them)."""
    lines = []
    for p in parts:
        if p.get("keep"):
            continue
        name = f', name="{p["name"]}"' if table["label"] == "gpt" and p["name"] else ""
        lines.append(f'{part_node(disk_node, p["n"])} : start={p["start"]}, size={p["size"]}, type={p["type"]}{name}')
    return "\n".join(lines) + "\n"


def part_node(disk, n):
    # /dev/vda1, /dev/sda1; /dev/nvme0n1p1, /dev/loop0p1, /dev/mmcblk0p1
    return f"{disk}p{n}" if disk[-1].isdigit() else f"{disk}{n}"


def home_fstab_line(uuid, fs):
    """The fstab line of a separate /var/home partition (fsck pass 2; btrfs has no fsck)."""
    if not re.fullmatch(r"[0-9A-Fa-f-]{8,36}", uuid or ""):
        raise ValueError(f"{uuid!r} is not a file system UUID")
    return f"UUID={uuid}\t/var/home\t{fs}\tdefaults\t0\t{0 if fs == 'btrfs' else 2}"
