"""The btrfs subvolume layout both installers make: what is created, mounted and booted.

The root file system holds three subvolumes at its top level:

  @           the sysroot: ostree's repository, deployments and the stateroot's /var. The
              initramfs mounts it because the kernel command line says rootflags=subvol=@
              (root_kargs) next to root=UUID=<fs>.
  @home       mounted at /var/home by an fstab line (fstab_lines); /home links to var/home on
              an ostree system, so the users' files live outside the sysroot and survive a
              rollback or a snapshot of @.
  @snapshots  created empty and not mounted: snapshot tools (snapper, btrbk, timeshift in its
              btrfs mode) find it at the top level of the file system (mount it with
              subvol=@snapshots where the tool expects it, e.g. /.snapshots).

Why not more (@var, @log, ...): on an ostree system /var is not a file system of its own at
boot: it is ostree/deploy/<stateroot>/var inside the sysroot, bind-mounted onto every
deployment by ostree-prepare-root in the initramfs, before fstab is read. A subvolume mounted
at /var by fstab would hide that bind mount (and the stateroot's /var that ostree manages),
so /var stays in @; directories below it that are ordinary mount points (/var/home here) can
be subvolumes. /boot stays a separate partition (ext4): GRUB then never has to find kernels
through a subvolume path.

  SUBVOLUMES                 the subvolumes, in the order they are created
  root_kargs(subvolume)      kernel arguments that mount subvolume as the root
  fstab_lines(uuid, mounted) fstab lines for the subvolumes mounted after the root
  create_argv(top, name)     the command that creates one subvolume (top: the mounted top level)
  mount_options(subvolume)   mount -o value for one subvolume
  subvolume_problem(name)    None, or why name cannot be a subvolume name here

Standard library only; pure (no I/O), so both installers and the unit tests share it.
"""

import re

ROOT = "@"
HOME = "@home"
SNAPSHOTS = "@snapshots"
SUBVOLUMES = (ROOT, HOME, SNAPSHOTS)
# Where each subvolume goes on the installed system (None: created, not mounted).
MOUNTS = {ROOT: "/", HOME: "/var/home", SNAPSHOTS: None}
# The same options on every subvolume line: btrfs applies most per file system anyway, and a
# difference would only confuse whoever reads the fstab.
OPTIONS = "defaults"

_NAME = re.compile(r"@[A-Za-z0-9_.-]{0,63}")
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
# Mount points an fstab line may name: absolute, no white space or backslash (fstab's
# separators and escape character), no "." or ".." components.
_MOUNT = re.compile(r"(/[A-Za-z0-9_.+-]+)+")


def subvolume_problem(name):
    """None when name is a top-level subvolume name this layout accepts, else why not."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name in ("@.", "@.."):
        return "is not a subvolume name (@ then up to 63 letters, digits, _ . -)"
    return None


def _check_uuid(fs_uuid):
    if not isinstance(fs_uuid, str) or not _UUID.fullmatch(fs_uuid):
        raise ValueError(f"{fs_uuid!r} is not a file system UUID")


def mount_options(subvolume, extra=OPTIONS):
    """The mount -o value for one subvolume (also the fstab options field)."""
    why = subvolume_problem(subvolume)
    if why:
        raise ValueError(f"{subvolume!r} {why}")
    return f"subvol={subvolume}" + (f",{extra}" if extra else "")


def root_kargs(subvolume=ROOT):
    """The kernel arguments that make the initramfs mount subvolume as the root (root= itself
    is written by the deploy backend from the file system's UUID)."""
    why = subvolume_problem(subvolume)
    if why:
        raise ValueError(f"{subvolume!r} {why}")
    return [f"rootflags=subvol={subvolume}"]


def fstab_lines(fs_uuid, mounted_subvolumes):
    """fstab lines for the subvolumes mounted after the root: mounted_subvolumes maps a
    subvolume to its mount point (or is a list of (subvolume, mount point)); the root ("/")
    is skipped: the initramfs mounts it from root= and rootflags=. Pass 0: btrfs has no fsck."""
    _check_uuid(fs_uuid)
    pairs = mounted_subvolumes.items() if isinstance(mounted_subvolumes, dict) else mounted_subvolumes
    out = []
    for subvolume, mount_point in pairs:
        if mount_point is None or mount_point == "/":
            continue
        if not _MOUNT.fullmatch(mount_point) or any(c in (".", "..") for c in mount_point.split("/")):
            raise ValueError(f"{mount_point!r} is not a mount point for fstab")
        out.append(f"UUID={fs_uuid}\t{mount_point}\tbtrfs\t{mount_options(subvolume)}\t0\t0")
    return out


def default_fstab_lines(fs_uuid):
    """The lines of this layout: @home at /var/home."""
    return fstab_lines(fs_uuid, MOUNTS)


def create_argv(top, name):
    """btrfs subvolume create <top>/<name>; top is where the file system's top level is mounted."""
    why = subvolume_problem(name)
    if why:
        raise ValueError(f"{name!r} {why}")
    return ["btrfs", "subvolume", "create", top.rstrip("/") + "/" + name]
