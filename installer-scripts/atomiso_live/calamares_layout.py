"""The layout Calamares hands the deploy job, read as an ostree system needs it.

Calamares' partition module describes every partition of every disk it looked at in
globalstorage "partitions" (device, mountPoint, fs, claimed = formatted by this install,
luksMapperName when encrypted, partlabel); its mount module adds "btrfsSubvolumes" and
"btrfsRootSubvolume" when the root is btrfs. Whatever the user chose (erase, alongside, replace,
manual), the job sees only that. classify() turns it into a Layout, or raises LayoutError with
a title and a message for the dialog when the layout cannot install or cannot boot:

  /            required; ext2/3/4, xfs or btrfs (ostree needs hard links, symlinks, xattrs)
  /boot        optional (without it ostree keeps the kernels in the sysroot's /boot); GRUB must
               read it: ext2/3/4, xfs or btrfs, not encrypted (GRUB cannot open LUKS2 with
               argon2), not FAT (ostree swaps /boot/loader, a symlink)
  /boot/efi    the ESP: required on UEFI, FAT; an existing one is reused (Calamares does not
               format a partition it did not create)
  /var/home    optional, also when given as /home (on an ostree system /home links to
               var/home): mounted there by an fstab line
  swap         any number
  (none)       partitions without a mount point are not touched (Windows, its ESP when not
               reused, another Linux)
  anything else is refused: /var is the stateroot's, bound by ostree-prepare-root before fstab
  is read (a partition there would hide it); /usr is the read-only image; the rest has no
  place in the sysroot and is mounted after installing.

Without a separate /boot, GRUB reads the kernels from the root file system: it must then not
be encrypted, and not a btrfs subvolume layout (GRUB would find /boot through the subvolume
path; atomiso keeps /boot separate there, like the unattended installer).

Standard library only; pure (no I/O): the unit tests feed it globalstorage as Calamares writes it.
"""

from collections import namedtuple

from . import btrfs

ROOT_FS = ("ext4", "ext3", "ext2", "xfs", "btrfs")
BOOT_FS = ("ext4", "ext3", "ext2", "xfs", "btrfs")
ESP_FS = ("fat32", "fat16", "fat12", "vfat")
HOME_MOUNTS = ("/var/home", "/home")
# Free space the ESP needs for shim, MokManager and the signed GRUB in EFI/<id> and, when it is
# absent, the same again at the removable path EFI/BOOT (about 4.5 MiB each, measured on
# Debian trixie's shim-signed and grub-efi-amd64-signed), with room for one update.
ESP_MIN_FREE_MIB = 16

# home: None, or Home(device, fs, subvolume (None for a partition), mounted_at (where Calamares
# mounted it below the root: "/var/home" or "/home")).
Home = namedtuple("Home", "device fs subvolume mounted_at")
# root_subvolume: "@" style name or None; unmount: mount points below the root (Calamares put
# them there) that must go before the deploy, in unmount order (deepest first); created: the
# devices this install created (claimed), the only ones whose partition type may be set.
Layout = namedtuple("Layout", "root boot esp home swaps root_subvolume unmount created")


class LayoutError(Exception):
    def __init__(self, title, message):
        super().__init__(message)
        self.title = title
        self.message = message


def _device(p):
    """The block device holding the file system: the LUKS mapping when encrypted."""
    mapper = p.get("luksMapperName")
    return "/dev/mapper/" + mapper if mapper else p.get("device", "")


def _subvolume(name):
    """Calamares writes subvolumes as "/@home"; btrfs.py takes "@home"."""
    if not isinstance(name, str) or not name:
        return None
    name = name.lstrip("/")
    why = btrfs.subvolume_problem(name)
    if why:
        raise LayoutError("The btrfs layout is not supported",
                          "The btrfs subvolume {!r} {}. Rebuild the ISO with atomiso's mount.conf.".format(name, why))
    return name


def classify(partitions, firmware, btrfs_subvolumes=None, btrfs_root_subvolume=None):
    parts = [p for p in partitions or [] if isinstance(p, dict)]
    by_mount = {}
    swaps = []
    for p in parts:
        mp = p.get("mountPoint") or ""
        fs = str(p.get("fs") or "").lower()
        if fs == "linuxswap":
            swaps.append(p)
            continue
        if not mp:
            continue
        taken = next((by_mount[m] for m in (HOME_MOUNTS if mp in HOME_MOUNTS else (mp,)) if m in by_mount), None)
        if taken is not None:
            raise LayoutError(
                "Two partitions for one place",
                "Both {} and {} are to be mounted at {}. Go back to partitioning and give each "
                "place one partition.".format(taken.get("device", "?"), p.get("device", "?"),
                                              "/var/home (/home)" if mp in HOME_MOUNTS else mp),
            )
        by_mount[mp] = p

    for mp, p in by_mount.items():
        if mp in ("/", "/boot", "/boot/efi") or mp in HOME_MOUNTS:
            continue
        if mp == "/var" or mp.startswith("/var/"):
            why = ("on this atomic system /var belongs to the installed system's state: it is "
                   "bound in before any partition is mounted, so a partition there would hide it")
        elif mp == "/usr" or mp.startswith("/usr/"):
            why = "/usr is the read-only system image itself"
        else:
            why = "an atomic system keeps everything else inside the system partition"
        raise LayoutError(
            "A mount point atomiso cannot use",
            "{} is to be mounted at {}, but {}. Only /, /boot, /boot/efi, /var/home (or /home) "
            "and swap can have partitions of their own: go back to partitioning and remove that "
            "mount point (you can mount the partition after installing).".format(p.get("device", "?"), mp, why),
        )

    root = by_mount.get("/")
    if root is None:
        raise LayoutError(
            "No root partition",
            "None of the partitions is mounted at /. Go back to partitioning and assign the mount "
            "point / to a partition.",
        )
    root_fs = str(root.get("fs") or "").lower()
    if root_fs not in ROOT_FS:
        raise LayoutError(
            "The root file system cannot hold the system",
            "{} is to be formatted as {}, which cannot hold an atomic system (hard links, "
            "symbolic links and extended attributes). Go back to partitioning and choose one of "
            "{}.".format(root.get("device", "?"), root_fs or "nothing", ", ".join(ROOT_FS)),
        )

    root_subvolume = None
    home_subvolume = None
    unmount = []
    if root_fs == "btrfs" and btrfs_root_subvolume:
        root_subvolume = _subvolume(btrfs_root_subvolume)
        for s in btrfs_subvolumes or []:
            if not isinstance(s, dict):
                continue
            mp, name = s.get("mountPoint"), _subvolume(s.get("subvolume"))
            if not name or mp == "/":
                continue
            if mp in HOME_MOUNTS and home_subvolume is None and not any(m in by_mount for m in HOME_MOUNTS):
                home_subvolume = (name, mp)
            # Every subvolume Calamares mounted below the root leaves again before the deploy
            # (the sysroot must be empty); the home subvolume comes back at /var/home.
            if isinstance(mp, str) and mp.startswith("/"):
                unmount.append(mp)

    boot = by_mount.get("/boot")
    if boot is not None:
        boot_fs = str(boot.get("fs") or "").lower()
        if boot.get("luksMapperName"):
            raise LayoutError(
                "/boot cannot be encrypted",
                "{} (/boot) is encrypted, but GRUB cannot open a LUKS2 volume to read the kernels "
                "from it. Go back to partitioning and leave /boot unencrypted (the root partition "
                "can stay encrypted).".format(boot.get("device", "?")),
            )
        if boot_fs not in BOOT_FS:
            raise LayoutError(
                "GRUB cannot use this /boot",
                "{} (/boot) is to be {}: {}. Go back to partitioning and make /boot one of {}."
                .format(boot.get("device", "?"), boot_fs or "unformatted",
                        "ostree switches boot menus with a symbolic link, which FAT cannot hold"
                        if boot_fs.startswith("fat") else "GRUB cannot read the kernels from it",
                        ", ".join(BOOT_FS)),
            )
    else:
        if root.get("luksMapperName"):
            raise LayoutError(
                "An encrypted root needs a separate /boot",
                "{} (/) is encrypted and there is no /boot partition, so GRUB would have to read "
                "the kernels from inside LUKS2, which it cannot. Go back to partitioning and add "
                "an unencrypted /boot partition (ext4, 1 GiB).".format(root.get("device", "?")),
            )
        if root_subvolume:
            raise LayoutError(
                "The btrfs layout needs a separate /boot",
                "{} (/) holds btrfs subvolumes and there is no /boot partition. GRUB would have "
                "to find the kernels through the subvolume; atomiso keeps them on a /boot "
                "partition instead. Go back to partitioning and add a /boot partition (ext4, "
                "1 GiB).".format(root.get("device", "?")),
            )

    esp = by_mount.get("/boot/efi")
    if esp is not None and str(esp.get("fs") or "").lower() not in ESP_FS:
        raise LayoutError(
            "The EFI system partition is not FAT",
            "{} is mounted at /boot/efi but is {}; the firmware reads only FAT. Go back to "
            "partitioning and choose the EFI system partition (FAT32) for /boot/efi."
            .format(esp.get("device", "?"), esp.get("fs") or "unformatted"),
        )
    if firmware == "efi" and esp is None:
        raise LayoutError(
            "No EFI system partition",
            "This computer starts by UEFI, which needs an EFI system partition (FAT32) mounted "
            "at /boot/efi; none is. Go back to partitioning and choose the disk's existing EFI "
            "system partition for /boot/efi (keep its contents: do not format it), or create "
            "one of at least 300 MiB.",
        )

    home = None
    home_part = next((by_mount[m] for m in HOME_MOUNTS if m in by_mount), None)
    if home_part is not None:
        home_mp = next(m for m in HOME_MOUNTS if m in by_mount)
        home_fs = str(home_part.get("fs") or "").lower()
        if home_fs in ("", "unformatted") or home_fs.startswith("fat") or home_fs == "ntfs":
            raise LayoutError(
                "This home partition cannot be used",
                "{} is to be mounted at {} but is {}: a home partition needs a Linux file "
                "system (ext4, xfs or btrfs). Go back to partitioning and format it, or remove "
                "its mount point.".format(home_part.get("device", "?"), home_mp, home_fs or "unformatted"),
            )
        home = Home(_device(home_part), home_fs, None, home_mp)
        unmount.append(home_mp)
    elif home_subvolume:
        home = Home(_device(root), "btrfs", home_subvolume[0], home_subvolume[1])

    # Deepest first, each once.
    unmount = sorted(set(unmount), key=lambda m: (-m.count("/"), m))
    created = sorted({p.get("device") for p in parts if p.get("claimed") is True and p.get("device")})
    return Layout(root, boot, esp, home, swaps, root_subvolume, unmount, created)


def home_fstab_line(home, fs_uuid):
    """The fstab line that mounts the home partition or subvolume at /var/home."""
    if home.subvolume:
        return btrfs.fstab_lines(fs_uuid, [(home.subvolume, "/var/home")])[0]
    if not isinstance(fs_uuid, str) or not fs_uuid or any(c.isspace() for c in fs_uuid):
        raise ValueError("{!r} is not a file system UUID".format(fs_uuid))
    return "UUID={}\t/var/home\t{}\tdefaults\t0\t2".format(fs_uuid, home.fs)


def home_mount_argv(home, target):
    """mount the home partition or subvolume at target (the deployment's var/home)."""
    argv = ["mount"]
    if home.subvolume:
        argv += ["-o", btrfs.mount_options(home.subvolume)]
    return argv + [home.device, target]


def esp_problem(free_bytes):
    """None, or why an ESP with free_bytes free cannot take the boot loader."""
    need = ESP_MIN_FREE_MIB * 1024 * 1024
    if free_bytes >= need:
        return None
    return ("the EFI system partition has {} MiB free; the boot loader needs {} MiB"
            .format(free_bytes // (1024 * 1024), ESP_MIN_FREE_MIB))
