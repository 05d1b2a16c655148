#!/usr/bin/env python3
# atomisodeploy: the Calamares job that installs an atomic (ostree/bootc) system image.
#
# Why it exists: Calamares' stock unpackfs copies a file system tree, but an atomic system is
# an ostree deployment made from the OCI image on the medium. This job runs atomiso's deploy
# backend (ostree-deploy or bootc-deploy, as /etc/atomiso/install.json says) on the target
# that Calamares' partition and mount modules prepared, then makes the new deployment look
# like an ordinary root to the stock modules that follow (locale, keyboard, users, hostname,
# machineid): the deployment D gets its stateroot /var, /boot, /boot/efi, the physical root
# at /sysroot and the live /dev, /proc, /sys, /run bound in, /usr read-only (its files are
# hard links into the ostree repository and must never be written in place), and
# globalstorage rootMountPoint is switched to D. The atomisoumount job undoes all of this
# before Calamares' umount module runs.
#
# Every partitioning path (erase, alongside, replace, manual) reaches this job as the same
# globalstorage; atomiso_live.calamares_layout reads it: root, optional /boot, the ESP (an
# existing one is reused, never formatted: Calamares formats only what it created), a
# /var/home partition or btrfs subvolume, swap. A layout that cannot install or boot is refused
# with a dialog before the deploy writes anything (Calamares' own partition job has run by
# then: a job cannot come before it and still see the final layout). Mounts Calamares made
# below the root that the sysroot must not have (/var/home, btrfs subvolumes) are undone
# first; /var/home comes back in the deployment, by fstab and for the users module.
# Only partitions this install created (claimed) get their GPT type fixed.
#
# Globalstorage read: rootMountPoint, firmwareType, partitions (luksUuid of encrypted ones:
# rd.luks.uuid= and /etc/crypttab in the deployment), btrfsSubvolumes, btrfsRootSubvolume
# (rootflags=subvol=). Written: atomisoOriginalRoot, atomisoMounts (every mount made, in mount
# order), rootMountPoint (= D at the end).
# Job configuration: plan (default /etc/atomiso/install.json), log (default
# /var/log/atomiso/deploy.log).
#
# What is not about Calamares (the plan, the backend and its protocol, crypttab, fstab, groups,
# mounts) lives in the atomiso_live package (installer-scripts/atomiso_live, installed in the
# live root's dist-packages), shared with the unattended installer.
#
# Stdlib only; runs inside Calamares 3.3 (Python 3.11+). It never deletes anything.

import json
import os
import re
import subprocess

import libcalamares
from atomiso_live import backend, btrfs, gpt, mounts, proc, target
from atomiso_live import calamares_layout as layouts
from atomiso_live import plan as install_plan

DEFAULT_PLAN = install_plan.DEFAULT_PATH
DEFAULT_LOG = "/var/log/atomiso/deploy.log"
PROGRESS_SHARE = 0.95  # of the job's progress bar given to the backend; the rest is the binds

_status = None


def pretty_name():
    return "Installing the system image."


def pretty_status_message():
    # Calamares builds with Boost.Python ask for this after each setprogress(); the pybind11
    # builds show pretty_name() only (PythonJob.cpp: "TODO: update prettyname").
    return _status or pretty_name()


class JobError(Exception):
    """A failure to show to the user: a short title and what happened / why / what to do."""

    def __init__(self, title, message):
        super().__init__(message)
        self.title = title
        self.message = message


def _config():
    conf = getattr(libcalamares.job, "configuration", None)
    return conf if isinstance(conf, dict) else {}


# ---- the install plan ----

def read_plan(path):
    try:
        return install_plan.load(path)
    except install_plan.PlanError as e:
        raise JobError(
            "The installer is incomplete",
            "The install plan {} {}. It is written when the ISO is built, so this installation "
            "medium is damaged or was built wrongly: rebuild the ISO with atomiso, or write it to "
            "the USB stick again.".format(path, e.what),
        ) from None


# ---- what Calamares prepared ----

def _gs_value(key):
    gs = libcalamares.globalstorage
    return gs.value(key) if gs.contains(key) else None


def _missing(key, what):
    return JobError(
        "The installer is misconfigured",
        "Calamares did not provide {} (globalstorage key {}). The partition and mount modules "
        "must run before atomisodeploy in settings.conf; rebuild the ISO with atomiso.".format(what, key),
    )


def whole_disk(device):
    """The disk holding a partition: /dev/vda4 -> /dev/vda, /dev/nvme0n1p4 -> /dev/nvme0n1."""
    if os.path.exists(device):
        try:
            out = subprocess.run(
                ["lsblk", "-ndo", "PKNAME", device], capture_output=True, text=True, check=False
            ).stdout.strip()
            if out and "\n" not in out:
                return "/dev/" + out
        except OSError:
            pass
    m = re.match(r"^(/dev/\S*\d)p\d+$", device)  # nvme0n1p4, mmcblk0p2, loop0p1
    if m:
        return m.group(1)
    m = re.match(r"^(/dev/\S*\D)\d+$", device)  # vda4, sda12
    if m:
        return m.group(1)
    raise JobError(
        "Cannot find the installation disk",
        "The root partition {} does not look like a partition of a disk, so the boot loader "
        "has no disk to go to. Choose a partition on a disk in the partitioning step.".format(device),
    )


def target_from_globalstorage():
    root = _gs_value("rootMountPoint")
    if not isinstance(root, str) or not root:
        raise _missing("rootMountPoint", "the mounted target")
    if not os.path.isdir(root):
        raise JobError(
            "The target is not mounted",
            "The target root {} does not exist, so the mount step did not succeed. Go back to "
            "partitioning and try again.".format(root),
        )
    firmware = _gs_value("firmwareType")
    if firmware not in ("efi", "bios"):
        raise _missing("firmwareType", "the firmware type (efi or bios)")
    partitions = _gs_value("partitions")
    if not isinstance(partitions, list) or not partitions:
        raise _missing("partitions", "the list of partitions")
    roots = [p for p in partitions if isinstance(p, dict) and p.get("mountPoint") == "/"]
    if not roots or not roots[0].get("device"):
        raise JobError(
            "No root partition",
            "None of the partitions is mounted at /. Go back to partitioning and assign the "
            "mount point / to a partition.",
        )
    device = roots[0]["device"]
    return root, firmware, device, whole_disk(device)


def luks_uuids():
    """LUKS UUIDs of the encrypted partitions Calamares made (its luksUuid key), in order."""
    uuids = []
    for p in _gs_value("partitions") or []:
        if isinstance(p, dict) and p.get("luksMapperName"):
            uuid = p.get("luksUuid")
            if not isinstance(uuid, str) or not re.fullmatch(r"[0-9a-fA-F-]{16,}", uuid):
                raise JobError(
                    "Encrypted partition without a LUKS UUID",
                    "{} is encrypted, but the partitioning step did not record its LUKS UUID, so "
                    "the installed system could not unlock it at boot.".format(p.get("device", "?")),
                )
            uuids.append(uuid.lower())
    return uuids


def add_swap(deployment):
    """fstab lines for the swap partitions Calamares made ("small"/"suspend" swap choices): the
    backend's fstab names only /boot and /boot/efi."""
    target.add_fstab_lines(deployment, target.swap_fstab_lines(_gs_value("partitions")))


# ---- the backend ----

def _set_type(disk, node, type_guid):
    number = re.search(r"(\d+)$", node)
    if not number:
        return
    why = proc.failure(["sfdisk", "--part-type", disk, number.group(1), type_guid])
    if why:
        libcalamares.utils.warning("atomisodeploy: setting the type of {} failed: {}".format(node, why))
    else:
        libcalamares.utils.debug("atomisodeploy: {} has the GPT type {} now".format(node, type_guid))


def read_layout(firmware):
    try:
        return layouts.classify(
            _gs_value("partitions"), firmware, _gs_value("btrfsSubvolumes"), _gs_value("btrfsRootSubvolume")
        )
    except layouts.LayoutError as e:
        raise JobError(e.title, e.message + NOTHING_INSTALLED) from None


NOTHING_INSTALLED = (
    "\n\nThe partitioning step has already been applied to the disk; nothing of the system has "
    "been written yet."
)


def check_esp_room(root, layout):
    esp = os.path.join(root, "boot", "efi")
    if layout.esp is None or not mounts.is_mount_point(esp):
        return
    st = os.statvfs(esp)
    why = layouts.esp_problem(st.f_bavail * st.f_frsize)
    if why:
        raise JobError(
            "The EFI system partition is full",
            "{} ({}). Free space on it (or choose another EFI system partition) and install "
            "again; atomiso never deletes another system's boot files.{}".format(
                why[0].upper() + why[1:], layout.esp.get("device", "?"), NOTHING_INSTALLED),
        )


def clear_root_mounts(root, layout):
    """Undoes the mounts Calamares made below the root that an ostree sysroot must not have (a
    /var/home partition, btrfs subvolumes), and the empty folders it made for them; the home
    partition or subvolume is mounted again in the deployment later."""
    for mp in layout.unmount:
        path = os.path.join(root, mp.lstrip("/"))
        why = unmount(path)
        if why:
            raise JobError(
                "Preparing the target failed",
                "{} could not be unmounted before the install: {}.{}".format(path, why, NOTHING_INSTALLED),
            )
        while os.path.realpath(path) != os.path.realpath(root):
            try:
                os.rmdir(path)  # only when empty; the backend refuses a root that is not
            except OSError:
                break
            libcalamares.utils.debug("atomisodeploy: removed the empty mount point {}".format(path))
            path = os.path.dirname(path)


def add_home(deployment, layout):
    """The fstab line that mounts /var/home from its partition or subvolume."""
    home = layout.home
    if home is None:
        return
    out = subprocess.run(["blkid", "-p", "-o", "value", "-s", "UUID", home.device], capture_output=True, text=True)
    uuid = out.stdout.strip()
    try:
        line = layouts.home_fstab_line(home, uuid)
    except ValueError:
        raise JobError(
            "The home partition has no UUID",
            "{} (/var/home) has no file system UUID, so the installed system could not mount it. "
            "Format it in the partitioning step and install again.".format(home.device),
        ) from None
    target.add_fstab_lines(deployment, [line])
    libcalamares.utils.debug("atomisodeploy: fstab: " + line)
    if home.subvolume is None:
        target.mask_gpt_auto(deployment)
        libcalamares.utils.debug("atomisodeploy: systemd-gpt-auto-generator masked (a /var/home partition)")


def fix_partition_types(disk, created):
    """Trixie's Calamares/KPMcore partition job does not apply the layout's BIOS boot type to
    the 1 MiB "bios-boot" partition (it stays a Linux partition), and its "boot" flag on the
    ext4 /boot partition becomes the ESP type on GPT. GRUB embeds its core image only in a BIOS
    boot partition, and firmware should not take an ext4 /boot for an ESP: set both types
    (the table's type fields only, no data moves) before the backend checks the disk. Only
    partitions this install created (globalstorage claimed) are considered."""
    out = subprocess.run(["sfdisk", "--json", disk], capture_output=True, text=True)
    if out.returncode != 0:
        libcalamares.utils.debug("atomisodeploy: sfdisk --json {}: {}".format(disk, out.stderr.strip()))
        return
    table = json.loads(out.stdout).get("partitiontable", {})
    libcalamares.utils.debug("atomisodeploy: partition table of {}: {}".format(disk, json.dumps(table)))
    if table.get("label") != "gpt":
        return
    changed = False
    for p in table.get("partitions", []):
        node, ptype = p.get("node", ""), p.get("type", "").lower()
        if node not in created:
            continue  # another system's partition, or one the user kept: never changed
        if p.get("name") == "bios-boot" and not gpt.same(ptype, gpt.BIOS_BOOT):
            _set_type(disk, node, gpt.BIOS_BOOT.lower())
            changed = True
        elif gpt.same(ptype, gpt.ESP):
            fs = subprocess.run(["blkid", "-p", "-o", "value", "-s", "TYPE", node], capture_output=True, text=True)
            if fs.returncode == 0 and fs.stdout.strip() not in ("", "vfat"):
                _set_type(disk, node, gpt.LINUX.lower())
                changed = True
    if changed:
        proc.failure(["partx", "-u", disk])


def run_backend(plan, argv, log):
    failed_title = "Installing {} failed".format(plan["product"]["name"])
    if not os.access(argv[0], os.X_OK):
        raise JobError(
            failed_title,
            "The deploy program {} is missing from the live system, so the system image cannot "
            "be installed. The ISO was built wrongly: rebuild it with atomiso.".format(argv[0]),
        )
    libcalamares.utils.debug("atomisodeploy: running " + " ".join(argv))

    def on_stdout(line):
        global _status
        libcalamares.utils.debug("deploy: " + line)
        p = backend.progress(line)
        if p:
            if p.message:
                _status = p.message
            libcalamares.job.setprogress(p.percent / 100.0 * PROGRESS_SHARE)

    try:
        status, stderr_lines = backend.run(argv, on_stdout, lambda l: libcalamares.utils.debug("deploy: " + l))
    except OSError as e:
        raise JobError(failed_title, "The deploy program {} could not be started: {}.".format(argv[0], e))
    if status == 0:
        return
    why = backend.error_message(stderr_lines)
    if why is None:
        tail = [l for l in stderr_lines if l.strip()]
        how = "was killed by signal {}".format(-status) if status < 0 else "exited with status {}".format(status)
        why = "The deploy program {}{}.".format(how, " ({})".format(tail[-1]) if tail else "")
    if not why.endswith("."):
        why += "."
    raise JobError(
        failed_title,
        "{}\n\nThe full log is in {} on the live system; keep it when you report the problem."
        .format(why, log),
    )


# ---- the deployment ----

def find_deployment(root, stateroot):
    try:
        return target.find_deployment(root, stateroot)
    except target.NoDeployment as e:
        raise JobError(
            "The installed system was not found",
            "The deploy step finished but {} deployment(s) of {} are in {} (exactly one was "
            "expected). The target is in an unknown state: format it and install again; the log "
            "is in /var/log/atomiso/.".format(e.count, stateroot, e.where),
        ) from None


def copy_image_groups(deployment, names):
    """Groups the image keeps in /usr/lib/group only (nss-altfiles) are invisible to the users
    module's groupadd/useradd: copied to /etc/group with their GID, unless that GID is taken
    (atomiso_live.target explains the policy); the rest the users module creates."""
    gp = target.copy_groups(deployment, names)
    for note in gp.notes:
        libcalamares.utils.warning("atomisodeploy: " + note)
    for line in gp.copy:
        name, _, gid = line.split(":")[:3]
        libcalamares.utils.debug("atomisodeploy: group {} (GID {}) copied to /etc/group".format(name, gid))
    if gp.create:
        libcalamares.utils.debug("atomisodeploy: groups left to the users module: {}".format(", ".join(gp.create)))
    return [l.split(":")[0] for l in gp.copy]


def ensure_var_targets(deployment, state_var):
    for path in target.ensure_var_targets(deployment, state_var):
        libcalamares.utils.debug("atomisodeploy: created {}".format(path))


def unmount(path):
    return mounts.unmount(path, lambda m: libcalamares.utils.warning("atomisodeploy: " + m))


def bind_deployment(root, deployment, state_var, home=None):
    """Makes the bind mounts (and mounts the /var/home partition or subvolume, so the users
    module creates the home folder there); returns the mount points in mount order. Undoes
    them on failure."""
    gs = libcalamares.globalstorage
    made = []

    # (source, target, recursive, read-only)
    plan = [(state_var, "var", False, False), (os.path.join(root, "boot"), "boot", False, False)]
    if mounts.is_mount_point(os.path.join(root, "boot", "efi")):
        plan.append((os.path.join(root, "boot", "efi"), "boot/efi", False, False))
    plan += [
        (root, "sysroot", False, False),
        ("/dev", "dev", True, False),
        ("/proc", "proc", False, False),
        ("/sys", "sys", True, False),
        ("/run", "run", False, False),
        (os.path.join(deployment, "usr"), "usr", False, True),
    ]

    def fail(title, message):
        left = []
        for dest in reversed(made):
            why = unmount(dest)
            if why:
                left.append("{} ({})".format(dest, why))
            else:
                libcalamares.utils.debug("atomisodeploy: unmounted {} again".format(dest))
        gs.insert("atomisoMounts", [t for t in made if mounts.is_mount_point(t)])
        if left:
            message += "\n\nThese mounts could not be undone: {}. Restart the computer before trying again.".format(
                ", ".join(left)
            )
        raise JobError(title, message)

    for source, rel, recursive, readonly in plan:
        dest = os.path.join(deployment, rel)
        title = "Preparing the installed system failed"
        if not os.path.isdir(source):
            fail(title, "{} does not exist, so it cannot be mounted at /{} of the new system. "
                 "The image or the deployment is incomplete: check the image and install again.".format(source, rel))
        if not os.path.isdir(dest):
            fail(title, "The new system has no /{} directory ({}). The image is not a complete "
                 "atomic system image: rebuild it as atomiso's docs/image.md describes.".format(rel, dest))
        argv = ["mount", "--rbind" if recursive else "--bind"]
        if readonly:
            argv += ["-o", "ro"]
        why = proc.failure(argv + [source, dest])
        if why:
            fail(title, "Mounting {} at {} failed: {}.".format(source, dest, why))
        # Never let mount events leak between these binds and the live system: rbinds of /dev
        # and /sys become slaves (unmounting them cannot unmount the live /dev/pts), plain binds
        # private (binding the physical root below itself would otherwise copy every later
        # mount into /sysroot).
        why = proc.failure(["mount", "--make-rslave" if recursive else "--make-private", dest])
        if why:
            if recursive:
                # Not unmounted: unmounting a shared copy of /dev would unmount the live /dev/pts.
                fail(title, "{} was bound at {} but could not be made a slave mount ({}); it was "
                     "left mounted. Restart the computer before trying again.".format(source, dest, why))
            made.append(dest)
            fail(title, "Making {} a private mount failed: {}.".format(dest, why))
        made.append(dest)
        gs.insert("atomisoMounts", list(made))
        libcalamares.utils.debug("atomisodeploy: mounted {} at {}".format(source, dest))
    if home is not None:
        dest = os.path.join(deployment, "var", "home")
        title = "Mounting the home partition failed"
        if not os.path.isdir(dest):
            fail(title, "The new system has no /var/home directory ({}).".format(dest))
        why = proc.failure(layouts.home_mount_argv(home, dest))
        if why:
            fail(title, "Mounting {} at {} failed: {}.".format(home.device, dest, why))
        made.append(dest)
        gs.insert("atomisoMounts", list(made))
        why = proc.failure(["mount", "--make-private", dest])
        if why:
            fail(title, "Making {} a private mount failed: {}.".format(dest, why))
        libcalamares.utils.debug("atomisodeploy: mounted {} at {}".format(home.device, dest))
    return made


def run():
    global _status
    try:
        conf = _config()
        plan_path = conf.get("plan") or DEFAULT_PLAN
        log = conf.get("log") or DEFAULT_LOG
        plan = read_plan(plan_path)
        root, firmware, device, disk = target_from_globalstorage()
        layout = read_layout(firmware)
        luks = luks_uuids()
        libcalamares.utils.debug(
            "atomisodeploy: {} backend, root {} ({} on {}), firmware {}, /boot {}, ESP {}, /var/home {}, "
            "root subvolume {}, created {}".format(
                plan["backend"], root, device, disk, firmware,
                (layout.boot or {}).get("device", "in the root"), (layout.esp or {}).get("device", "none"),
                layout.home.device if layout.home else "in the root", layout.root_subvolume or "none",
                ", ".join(layout.created) or "nothing")
        )
        check_esp_room(root, layout)
        _status = "Installing {}".format(plan["product"]["name"])
        libcalamares.job.setprogress(0.0)
        clear_root_mounts(root, layout)
        if disk:
            fix_partition_types(disk, set(layout.created))
        kargs = btrfs.root_kargs(layout.root_subvolume) if layout.root_subvolume else []
        run_backend(plan, backend.argv(plan, root, firmware, disk, log, extra_kargs=kargs, luks=luks), log)

        _status = "Preparing the installed system"
        deployment, state_var = find_deployment(root, plan["ostree"]["stateroot"])
        libcalamares.utils.debug("atomisodeploy: deployment {}".format(deployment))
        copy_image_groups(deployment, install_plan.user_groups(plan))
        target.write_crypttab(deployment, luks)
        if install_plan.automatic_updates(plan) and not target.enable_timer(deployment, target.AUTO_UPDATE_TIMER):
            libcalamares.utils.warning("atomisodeploy: the image has no {}; automatic updates stay off".format(target.AUTO_UPDATE_TIMER))
        add_swap(deployment)
        add_home(deployment, layout)
        ensure_var_targets(deployment, state_var)

        gs = libcalamares.globalstorage
        gs.insert("atomisoOriginalRoot", root)
        gs.insert("atomisoMounts", [])
        bind_deployment(root, deployment, state_var, layout.home)
        gs.insert("rootMountPoint", deployment)
        libcalamares.utils.debug("atomisodeploy: rootMountPoint is now {}".format(deployment))
        libcalamares.job.setprogress(1.0)
        return None
    except JobError as e:
        libcalamares.utils.warning("atomisodeploy: {}: {}".format(e.title, e.message))
        return (e.title, e.message)
    except Exception as e:  # noqa: BLE001 - anything else still gets a readable dialog
        import traceback

        libcalamares.utils.warning("atomisodeploy: " + traceback.format_exc())
        return (
            "Installing the system failed",
            "An unexpected error stopped the installation: {}. The target may be partly "
            "written: format it and install again. Details are in the Calamares log "
            "(/root/.cache/calamares/session.log).".format(e),
        )
