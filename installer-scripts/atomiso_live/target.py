"""What the installers write into the new deployment, and how they find it.

Every write replaces the file atomically (write_file): a symlink the image put at /etc/... is
replaced, never written through, and an interrupted write leaves the old file whole.

Groups, one policy for both installers (copy_groups / plan_groups):
  A group the first user joins that is missing from the deployment's /etc/group, but which
  the image keeps in /usr/lib/group (nss-altfiles), is copied to /etc/group with its GID, so
  files the image owns by that GID keep their meaning. If that GID is already taken in
  /etc/group by another group, the group is NOT copied: it is created anew with a fresh
  system GID (the unattended installer runs groupadd --system, Calamares' users module does
  it for its defaultGroups with system: true). Copying it would give two names one GID, and
  the user would silently be a member of the other group too.
"""

import glob
import os
import stat
import tempfile
from collections import namedtuple


# ---- files ----

def write_file(path, content, mode=None):
    """Atomic replace, never through a symlink. mode None keeps the old file's mode (0644 for
    a new file); the old file's owner and group are kept (e.g. /etc/gshadow root:shadow)."""
    d = os.path.dirname(path)
    old = None
    try:
        old = os.lstat(path)
    except FileNotFoundError:
        pass
    if mode is None:
        mode = stat.S_IMODE(old.st_mode) if old is not None and stat.S_ISREG(old.st_mode) else 0o644
    fd, tmp = tempfile.mkstemp(prefix=".atomiso-", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
        if old is not None and stat.S_ISREG(old.st_mode):
            os.chown(tmp, old.st_uid, old.st_gid)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def read_lines(path):
    """The file's lines, or None when it does not exist. A symlink at path is not followed
    (it is treated as absent): in a deployment it would resolve against the live system."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as e:
        if os.path.islink(path):
            return None
        raise e
    with os.fdopen(fd, encoding="utf-8") as f:
        return f.read().splitlines()


def text(lines):
    return "\n".join(lines) + "\n" if lines else ""


def find_entry(lines, name):
    """The passwd/group line of name, or None."""
    return next((l for l in lines or [] if l.split(":", 1)[0] == name), None)


def in_root(root, path):
    """path inside root with its symlinks followed inside root (absolute links stay in root)."""
    parts = [p for p in path.split("/") if p]
    cur, hops = root, 0
    while parts:
        name = parts.pop(0)
        if name == "..":
            cur = os.path.dirname(cur) if cur != root else root
            continue
        nxt = os.path.join(cur, name)
        if os.path.islink(nxt):
            hops += 1
            if hops > 40:
                raise OSError("too many symbolic links resolving {} in {}".format(path, root))
            target = os.readlink(nxt)
            if target.startswith("/"):
                cur = root
            parts = [p for p in target.split("/") if p] + parts
            continue
        cur = nxt
    return cur


# ---- systemd units ----

AUTO_UPDATE_TIMER = "atomiso-update.timer"


def enable_timer(deployment, unit):
    """Enables a timer the image ships in /usr/lib/systemd/system, in the deployment's /etc, as
    `systemctl enable` would (a timers.target.wants link). Returns False, changing nothing,
    when the image has no such unit (an image built without atomiso's update layer)."""
    source = "/usr/lib/systemd/system/" + unit
    if not os.path.isfile(in_root(deployment, source)):
        return False
    _replace_link(in_root(deployment, "/etc/systemd/system/timers.target.wants"), unit, source)
    return True


def _replace_link(directory, name, points_to):
    """directory/name -> points_to, replacing whatever was there (an install repeated)."""
    os.makedirs(directory, mode=0o755, exist_ok=True)
    link = os.path.join(directory, name)
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(points_to, link)


def mask_gpt_auto(deployment):
    """Masks systemd-gpt-auto-generator in the deployment's /etc (a /dev/null link, as
    `systemctl mask` does for units). Called when /var/home is a partition of its own: the
    generator mounts a partition typed "Linux home" (ours, or an old system's reused one) at
    /home, which is a symlink on an ostree system, and the boot stops in emergency mode. The
    installed system names every mount in fstab and root= on its command line, so it never
    needs the generator."""
    _replace_link(in_root(deployment, "/etc/systemd/system-generators"), "systemd-gpt-auto-generator", "/dev/null")


# ---- crypttab, fstab ----

def crypttab_lines(existing, uuids):
    """One line per LUKS volume, named as rd.luks.uuid= names it in the initramfs
    (luks-<uuid>), so the booted system sees the mapping it already has; the image's own
    lines (comments, other volumes) stay."""
    names = {"luks-" + u for u in uuids}
    lines = [l for l in existing or [] if not (l.split() and l.split()[0] in names)]
    return lines + ["luks-{0} UUID={0} none luks,discard".format(u) for u in uuids]


def write_crypttab(deployment, uuids):
    """etc/crypttab of the deployment (mode 0600); nothing when there is no LUKS volume."""
    if not uuids:
        return None
    path = os.path.join(deployment, "etc", "crypttab")
    write_file(path, text(crypttab_lines(read_lines(path), uuids)), 0o600)
    return path


def swap_fstab_lines(partitions):
    """fstab lines for swap partitions described as Calamares' globalstorage "partitions" does
    (fs linuxswap; luksMapperName/luksUuid when encrypted: used through the mapping
    rd.luks.uuid= opens, luks-<uuid>)."""
    lines = []
    for p in partitions or []:
        if not isinstance(p, dict) or p.get("fs") != "linuxswap":
            continue
        if p.get("luksMapperName") and p.get("luksUuid"):
            lines.append("/dev/mapper/luks-{} none swap defaults 0 0".format(str(p["luksUuid"]).lower()))
        elif p.get("uuid"):
            lines.append("UUID={} none swap defaults 0 0".format(p["uuid"]))
    return lines


def fstab_lines(existing, add):
    """The existing lines, then those of add not yet there."""
    have = list(existing or [])
    return have + [l for l in add if l not in have]


def add_fstab_lines(deployment, add):
    if not add:
        return None
    path = os.path.join(deployment, "etc", "fstab")
    write_file(path, text(fstab_lines(read_lines(path), add)))
    return path


# ---- groups ----

GroupPlan = namedtuple("GroupPlan", "copy create notes")


def _group_fields(line):
    fields = line.split(":")
    return fields if len(fields) == 4 and fields[0] and not line.startswith("#") else None


def plan_groups(etc_group, image_group, names):
    """What copy_groups does for the wanted group names (see the module's policy).

    etc_group, image_group: lines of /etc/group and /usr/lib/group (None: missing).
    Returns GroupPlan(copy: /usr/lib/group lines to append, create: names to create anew,
    notes: one sentence per decision that is not a plain copy)."""
    have = {f[0] for f in map(_group_fields, etc_group or []) if f}
    used = {f[2] for f in map(_group_fields, etc_group or []) if f}
    image = {}
    for f in map(_group_fields, image_group or []):
        if f and f[0] not in image:
            image[f[0]] = f
    copy, create, notes = [], [], []
    for name in dict.fromkeys(names):
        if not name or name in have:
            continue
        f = image.get(name)
        if f is None:
            create.append(name)
        elif f[2] in used:
            create.append(name)
            notes.append(
                "group {} has GID {} in /usr/lib/group, but /etc/group already uses that GID; "
                "it gets a new GID instead of sharing one".format(name, f[2])
            )
        else:
            copy.append(":".join(f))
            used.add(f[2])
        have.add(name)
    return GroupPlan(copy, create, notes)


def copy_groups(root, names):
    """Applies plan_groups to the deployment at root: appends the copied groups to /etc/group
    (and, if it exists, /etc/gshadow, locked). Returns the GroupPlan (create is left to the
    caller). Nothing happens when /etc/group does not exist."""
    etc_group = os.path.join(root, "etc", "group")
    gshadow = os.path.join(root, "etc", "gshadow")
    current = read_lines(etc_group)
    if current is None:
        return GroupPlan([], [], ["{} does not exist; groups not copied".format(etc_group)])
    gp = plan_groups(current, read_lines(os.path.join(root, "usr", "lib", "group")), names)
    if gp.copy:
        write_file(etc_group, text(current + gp.copy))
        shadow = read_lines(gshadow)
        if shadow is not None:
            write_file(gshadow, text(shadow + ["{}:!::{}".format(l.split(":")[0], l.split(":")[3]) for l in gp.copy]))
    return gp


# ---- the deployment ----

class NoDeployment(Exception):
    """Not exactly one deployment was found (count, directory searched)."""

    def __init__(self, count, where):
        super().__init__("expected one deployment in {}, found {}".format(where, count))
        self.count = count
        self.where = where


def find_deployment(root, stateroot):
    """(deployment, stateroot var) of the single deployment the backend made under root."""
    base = os.path.join(root, "ostree", "deploy", stateroot)
    found = sorted(
        d for d in glob.glob(os.path.join(base, "deploy", "*.0")) if os.path.isdir(d) and not os.path.islink(d)
    )
    if len(found) != 1:
        raise NoDeployment(len(found), os.path.join(base, "deploy"))
    return found[0], os.path.join(base, "var")


def ensure_var_targets(deployment, state_var):
    """/home -> var/home and /root -> var/roothome must resolve for useradd -m: creates the
    missing targets in the stateroot var. Returns the directories made."""
    made = []
    if not os.path.isdir(state_var):
        return made
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
            made.append(path)
    return made
