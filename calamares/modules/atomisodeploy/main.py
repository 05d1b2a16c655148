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
# Globalstorage read: rootMountPoint, firmwareType, partitions (luksUuid of encrypted ones:
# rd.luks.uuid= and /etc/crypttab in the deployment). Written: atomisoOriginalRoot,
# atomisoMounts (every mount made, in mount order), rootMountPoint (= D at the end).
# Job configuration: plan (default /etc/atomiso/install.json), log (default
# /var/log/atomiso/deploy.log).
#
# Stdlib only; runs inside Calamares 3.3 (Python 3.11+). It never deletes anything.

import glob
import json
import os
import re
import subprocess
import threading

import libcalamares

DEFAULT_PLAN = "/etc/atomiso/install.json"
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

def _plan_error(path, what):
    return JobError(
        "The installer is incomplete",
        "The install plan {} {}. It is written when the ISO is built, so this installation "
        "medium is damaged or was built wrongly: rebuild the ISO with atomiso, or write it to "
        "the USB stick again.".format(path, what),
    )


def _get(plan, path, dotted, kind=str):
    value = plan
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            raise _plan_error(path, "has no {}".format(dotted))
        value = value[key]
    if kind is str and (not isinstance(value, str) or not value):
        raise _plan_error(path, "has an empty or invalid {}".format(dotted))
    if kind is list and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
        raise _plan_error(path, "has an invalid {} (a list of strings is expected)".format(dotted))
    return value


def read_plan(path):
    import json

    try:
        with open(path, encoding="utf-8") as f:
            plan = json.load(f)
    except FileNotFoundError:
        raise _plan_error(path, "does not exist")
    except (OSError, ValueError) as e:
        raise _plan_error(path, "cannot be read ({})".format(e))
    if not isinstance(plan, dict):
        raise _plan_error(path, "is not a JSON object")
    backend = _get(plan, path, "backend")
    if backend not in ("ostree", "bootc"):
        raise _plan_error(path, 'names an unknown backend "{}" (ostree or bootc)'.format(backend))
    mode = _get(plan, path, "payload.mode")
    if mode == "embedded":
        payload = ["--layout", _get(plan, path, "payload.layout")]
    elif mode == "online":
        # Pulled from the registry onto the target disk by the backend (fetch-payload).
        tls = plan.get("payload", {}).get("tlsVerify", True)
        payload = ["--pull", _get(plan, path, "payload.source"), "--tls-verify", "true" if tls else "false"]
    else:
        raise _plan_error(path, 'names an unknown payload mode "{}" (embedded or online)'.format(mode))
    return {
        "product": _get(plan, path, "product.name"),
        "backend": backend,
        "reference": _get(plan, path, "image.reference"),
        "digest": _get(plan, path, "image.digest"),
        "payload": payload,
        "stateroot": _get(plan, path, "ostree.stateroot"),
        "ref": _get(plan, path, "ostree.ref"),
        "kargs": _get(plan, path, "kargs", list),
        "groups": _get(plan, path, "users.groups", list),
        "sudo_group": _get(plan, path, "users.sudoGroup"),
        "scripts": _get(plan, path, "scripts"),
    }


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


def swap_fstab_lines():
    """fstab lines for the swap partitions Calamares made ("small"/"suspend" swap choices): the
    backend's fstab names only /boot and /boot/efi. An encrypted swap is used through the
    mapping rd.luks.uuid= opens (luks-<uuid>)."""
    lines = []
    for p in _gs_value("partitions") or []:
        if not isinstance(p, dict) or p.get("fs") != "linuxswap":
            continue
        if p.get("luksMapperName") and p.get("luksUuid"):
            lines.append("/dev/mapper/luks-{} none swap defaults 0 0".format(str(p["luksUuid"]).lower()))
        elif p.get("uuid"):
            lines.append("UUID={} none swap defaults 0 0".format(p["uuid"]))
    return lines


def add_swap(deployment):
    lines = swap_fstab_lines()
    if lines:
        path = os.path.join(deployment, "etc", "fstab")
        have = _read_lines(path) or []
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(have + [l for l in lines if l not in have]) + "\n")


def write_crypttab(deployment, uuids):
    """One crypttab line per encrypted partition, named as rd.luks.uuid= names it in the
    initramfs (luks-<uuid>), so the booted system sees the same mapping it already has."""
    if not uuids:
        return
    path = os.path.join(deployment, "etc", "crypttab")
    names = {"luks-" + u for u in uuids}
    lines = [l for l in _read_lines(path) or [] if not (l.split() and l.split()[0] in names)]
    lines += ["luks-{0} UUID={0} none luks,discard".format(u) for u in uuids]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)


# ---- the backend ----

def backend_argv(plan, root, firmware, disk, log, luks=()):
    name = "ostree-deploy" if plan["backend"] == "ostree" else "bootc-deploy"
    argv = [
        os.path.join(plan["scripts"], name),
        *plan["payload"],
        "--digest", plan["digest"],
        "--target-imgref", plan["reference"],
        "--root", root,
        "--stateroot", plan["stateroot"],
        "--ref", plan["ref"],
        "--firmware", firmware,
        "--disk", disk,
        "--log", log,
    ]
    # The initramfs asks for the passphrase of each encrypted partition named here.
    for karg in list(plan["kargs"]) + ["rd.luks.uuid=" + u for u in luks]:
        argv += ["--karg", karg]
    return argv


BIOS_BOOT_TYPE = "21686148-6449-6e6f-744e-656564454649"
ESP_TYPE = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
LINUX_TYPE = "0fc63daf-8483-4772-8e79-3d69d8477de4"


def _set_type(disk, node, type_guid):
    number = re.search(r"(\d+)$", node)
    if not number:
        return
    why = _cmd(["sfdisk", "--part-type", disk, number.group(1), type_guid])
    if why:
        libcalamares.utils.warning("atomisodeploy: setting the type of {} failed: {}".format(node, why))
    else:
        libcalamares.utils.debug("atomisodeploy: {} has the GPT type {} now".format(node, type_guid))


def fix_partition_types(disk):
    """Trixie's Calamares/KPMcore partition job does not apply the layout's BIOS boot type to
    the 1 MiB "bios-boot" partition (it stays a Linux partition), and its "boot" flag on the
    ext4 /boot partition becomes the ESP type on GPT. GRUB embeds its core image only in a BIOS
    boot partition, and firmware should not take an ext4 /boot for an ESP: set both types
    (the table's type fields only, no data moves) before the backend checks the disk."""
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
        if p.get("name") == "bios-boot" and ptype != BIOS_BOOT_TYPE:
            _set_type(disk, node, BIOS_BOOT_TYPE)
            changed = True
        elif ptype == ESP_TYPE:
            fs = subprocess.run(["blkid", "-p", "-o", "value", "-s", "TYPE", node], capture_output=True, text=True)
            if fs.returncode == 0 and fs.stdout.strip() not in ("", "vfat"):
                _set_type(disk, node, LINUX_TYPE)
                changed = True
    if changed:
        _cmd(["partx", "-u", disk])


def run_backend(plan, argv, log):
    global _status
    failed_title = "Installing {} failed".format(plan["product"])
    if not os.access(argv[0], os.X_OK):
        raise JobError(
            failed_title,
            "The deploy program {} is missing from the live system, so the system image cannot "
            "be installed. The ISO was built wrongly: rebuild it with atomiso.".format(argv[0]),
        )
    libcalamares.utils.debug("atomisodeploy: running " + " ".join(argv))
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            bufsize=1,
        )
    except OSError as e:
        raise JobError(failed_title, "The deploy program {} could not be started: {}.".format(argv[0], e))

    stderr_lines = []

    def read_stderr():
        for line in proc.stderr:
            line = line.rstrip("\n")
            stderr_lines.append(line)
            libcalamares.utils.debug("deploy: " + line)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    for line in proc.stdout:
        line = line.rstrip("\n")
        libcalamares.utils.debug("deploy: " + line)
        m = re.match(r"^atomiso-progress\s+(\d+(?:\.\d+)?)\s*(.*)$", line)
        if m:
            pct = min(max(float(m.group(1)), 0.0), 100.0)
            if m.group(2):
                _status = m.group(2)
            libcalamares.job.setprogress(pct / 100.0 * PROGRESS_SHARE)
    status = proc.wait()
    reader.join()
    if status == 0:
        return
    errors = [l[len("atomiso-error:"):].strip() for l in stderr_lines if l.startswith("atomiso-error:")]
    if errors:
        why = errors[-1]
    else:
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
    base = os.path.join(root, "ostree", "deploy", stateroot)
    found = sorted(d for d in glob.glob(os.path.join(base, "deploy", "*.0")) if os.path.isdir(d))
    if len(found) != 1:
        raise JobError(
            "The installed system was not found",
            "The deploy step finished but {} deployment(s) of {} are in {} (exactly one was "
            "expected). The target is in an unknown state: format it and install again; the log "
            "is in /var/log/atomiso/.".format(len(found), stateroot, os.path.join(base, "deploy")),
        )
    state_var = os.path.join(base, "var")
    return found[0], state_var


def _read_lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return None


def _append_line(path, line):
    with open(path, "r+", encoding="utf-8") as f:
        content = f.read()
        if content and not content.endswith("\n"):
            f.write("\n")
        f.write(line + "\n")


def copy_image_groups(deployment, names):
    """Groups the image keeps in /usr/lib/group only (nss-altfiles) are invisible to the users
    module's groupadd/useradd; add the wanted ones to /etc/group with the same GID."""
    etc_group = os.path.join(deployment, "etc", "group")
    etc_gshadow = os.path.join(deployment, "etc", "gshadow")
    current = _read_lines(etc_group)
    image = _read_lines(os.path.join(deployment, "usr", "lib", "group"))
    if current is None or image is None:
        if current is None:
            libcalamares.utils.warning("atomisodeploy: {} does not exist; groups not copied".format(etc_group))
        return []
    have = {l.split(":", 1)[0] for l in current if l and not l.startswith("#")}
    used_gids = {l.split(":")[2] for l in current if l.count(":") >= 3}
    in_image = {l.split(":", 1)[0]: l for l in image if l.count(":") >= 3 and not l.startswith("#")}
    copied = []
    for name in names:
        if not name or name in have or name not in in_image:
            continue
        line = in_image[name]
        gid = line.split(":")[2]
        if gid in used_gids:
            libcalamares.utils.warning(
                "atomisodeploy: GID {} of group {} is already used in {}".format(gid, name, etc_group)
            )
        _append_line(etc_group, line)
        if os.path.exists(etc_gshadow):
            _append_line(etc_gshadow, "{}:!::".format(name))
        have.add(name)
        copied.append(name)
        libcalamares.utils.debug("atomisodeploy: group {} (GID {}) copied to /etc/group".format(name, gid))
    return copied


def ensure_var_targets(deployment, state_var):
    """/home -> var/home and /root -> var/roothome must resolve for useradd -m."""
    if not os.path.isdir(state_var):
        return  # bind_deployment explains
    for name, mode in (("home", 0o755), ("root", 0o700)):
        link = os.path.join(deployment, name)
        if not os.path.islink(link):
            continue
        target = os.readlink(link).lstrip("/")
        if not target.startswith("var/") or ".." in target.split("/"):
            continue
        path = os.path.join(state_var, target[len("var/"):])
        if not os.path.lexists(path):
            os.makedirs(path, mode=mode, exist_ok=True)
            os.chmod(path, mode)
            libcalamares.utils.debug("atomisodeploy: created {}".format(path))


# ---- mounts ----

def _unescape(field):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mount_points():
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return [_unescape(line.split(" ")[4]) for line in f if line.strip()]


def is_mount_point(path):
    return os.path.realpath(path) in set(mount_points())


def _cmd(argv):
    r = subprocess.run(argv, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        out = (r.stderr or r.stdout).strip().splitlines()
        return out[-1] if out else "exit status {}".format(r.returncode)
    return None


def unmount(path):
    """umount -R, then lazily if busy. Returns None or why it failed."""
    if not is_mount_point(path):
        return None
    why = _cmd(["umount", "-R", path])
    if why is None:
        return None
    libcalamares.utils.warning("atomisoumount: {} is busy ({}); detaching it lazily".format(path, why))
    why = _cmd(["umount", "-R", "-l", path])
    if why is None or not is_mount_point(path):
        return None
    return why


def bind_deployment(root, deployment, state_var):
    """Makes the bind mounts; returns the mount points in mount order. Undoes them on failure."""
    gs = libcalamares.globalstorage
    made = []

    # (source, target, recursive, read-only)
    plan = [(state_var, "var", False, False), (os.path.join(root, "boot"), "boot", False, False)]
    if is_mount_point(os.path.join(root, "boot", "efi")):
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
        for target in reversed(made):
            why = unmount(target)
            if why:
                left.append("{} ({})".format(target, why))
            else:
                libcalamares.utils.debug("atomisodeploy: unmounted {} again".format(target))
        gs.insert("atomisoMounts", [t for t in made if is_mount_point(t)])
        if left:
            message += "\n\nThese mounts could not be undone: {}. Restart the computer before trying again.".format(
                ", ".join(left)
            )
        raise JobError(title, message)

    for source, rel, recursive, readonly in plan:
        target = os.path.join(deployment, rel)
        title = "Preparing the installed system failed"
        if not os.path.isdir(source):
            fail(title, "{} does not exist, so it cannot be mounted at /{} of the new system. "
                 "The image or the deployment is incomplete: check the image and install again.".format(source, rel))
        if not os.path.isdir(target):
            fail(title, "The new system has no /{} directory ({}). The image is not a complete "
                 "atomic system image: rebuild it as atomiso's docs/image.md describes.".format(rel, target))
        argv = ["mount", "--rbind" if recursive else "--bind"]
        if readonly:
            argv += ["-o", "ro"]
        why = _cmd(argv + [source, target])
        if why:
            fail(title, "Mounting {} at {} failed: {}.".format(source, target, why))
        # Never let mount events leak between these binds and the live system: rbinds of /dev
        # and /sys become slaves (unmounting them cannot unmount the live /dev/pts), plain binds
        # private (binding the physical root below itself would otherwise copy every later
        # mount into /sysroot).
        why = _cmd(["mount", "--make-rslave" if recursive else "--make-private", target])
        if why:
            if recursive:
                # Not unmounted: unmounting a shared copy of /dev would unmount the live /dev/pts.
                fail(title, "{} was bound at {} but could not be made a slave mount ({}); it was "
                     "left mounted. Restart the computer before trying again.".format(source, target, why))
            made.append(target)
            fail(title, "Making {} a private mount failed: {}.".format(target, why))
        made.append(target)
        gs.insert("atomisoMounts", list(made))
        libcalamares.utils.debug("atomisodeploy: mounted {} at {}".format(source, target))
    return made


def run():
    global _status
    try:
        conf = _config()
        plan_path = conf.get("plan") or DEFAULT_PLAN
        log = conf.get("log") or DEFAULT_LOG
        plan = read_plan(plan_path)
        root, firmware, device, disk = target_from_globalstorage()
        luks = luks_uuids()
        libcalamares.utils.debug(
            "atomisodeploy: {} backend, root {} ({} on {}), firmware {}".format(plan["backend"], root, device, disk, firmware)
        )
        _status = "Installing {}".format(plan["product"])
        libcalamares.job.setprogress(0.0)
        if disk:
            fix_partition_types(disk)
        run_backend(plan, backend_argv(plan, root, firmware, disk, log, luks), log)

        _status = "Preparing the installed system"
        deployment, state_var = find_deployment(root, plan["stateroot"])
        libcalamares.utils.debug("atomisodeploy: deployment {}".format(deployment))
        copy_image_groups(deployment, list(plan["groups"]) + [plan["sudo_group"]])
        write_crypttab(deployment, luks)
        add_swap(deployment)
        ensure_var_targets(deployment, state_var)

        gs = libcalamares.globalstorage
        gs.insert("atomisoOriginalRoot", root)
        gs.insert("atomisoMounts", [])
        bind_deployment(root, deployment, state_var)
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
