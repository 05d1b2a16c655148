"""The install plan (/etc/atomiso/install.json): its only reader and validator.

atomiso writes it at build time (src/install/install-plan.ts, type InstallPlan); both
installers and the payload check obey it, so they cannot disagree about the image, the
payload, the layout or the users. load() checks every field any of them uses and refuses a
plan of another version; the helpers below derive what the deploy backend is given.
"""

import json
import os
import re

from . import kargs as kernel_args

DEFAULT_PATH = "/etc/atomiso/install.json"
VERSION = 1
FILESYSTEMS = ("ext4", "xfs", "btrfs")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_PINNED = re.compile(r"[^\s@]+@sha256:[0-9a-f]{64}")


class PlanError(Exception):
    """The plan is missing ("missing"), unreadable ("unreadable") or wrong ("invalid").

    what: the problem in a few words, naming the field (e.g. "has an invalid image.digest")."""

    def __init__(self, path, kind, what):
        super().__init__("the install plan {} {}".format(path, what))
        self.path = path
        self.kind = kind
        self.what = what


def _field(plan, dotted):
    value = plan
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            raise _Invalid("has no {}".format(dotted))
        value = value[key]
    return value


class _Invalid(Exception):
    pass


def _string(plan, dotted, pattern=None):
    value = _field(plan, dotted)
    if not isinstance(value, str) or not value or "\0" in value or "\n" in value:
        raise _Invalid("has an empty or invalid {} (a string is expected)".format(dotted))
    if pattern is not None and not pattern.fullmatch(value):
        raise _Invalid("has an invalid {} ({!r})".format(dotted, value[:100]))
    return value


def _number(plan, dotted, positive=True):
    value = _field(plan, dotted)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (positive and value <= 0):
        raise _Invalid("has an invalid {} (a positive number is expected)".format(dotted))
    return value


def _strings(plan, dotted):
    value = _field(plan, dotted)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _Invalid("has an invalid {} (a list of strings is expected)".format(dotted))
    return value


def _bool(plan, dotted, default):
    parent, _, key = dotted.rpartition(".")
    holder = _field(plan, parent) if parent else plan
    value = holder.get(key, default) if isinstance(holder, dict) else default
    if not isinstance(value, bool):
        raise _Invalid("has an invalid {} (true or false is expected)".format(dotted))
    return value


def validate(plan):
    """Raises _Invalid naming the first wrong field."""
    if not isinstance(plan, dict):
        raise _Invalid("is not a JSON object")
    if plan.get("version") != VERSION:
        raise _Invalid("has version {!r}, this installer reads version {} (rebuild the ISO with the same atomiso)".format(plan.get("version"), VERSION))
    for key in ("product.name", "product.version"):
        _string(plan, key)
    backend = _string(plan, "backend")
    if backend not in ("ostree", "bootc"):
        raise _Invalid('names an unknown backend "{}" (ostree or bootc)'.format(backend))
    _string(plan, "image.reference")
    _string(plan, "image.digest", _DIGEST)
    _bool(plan, "image.autoUpdate", False)
    mode = _string(plan, "payload.mode")
    if mode == "embedded":
        layout = _string(plan, "payload.layout")
        if not layout.startswith("/"):
            raise _Invalid("has an invalid payload.layout (an absolute path is expected)")
    elif mode == "online":
        _string(plan, "payload.source", _PINNED)
        _bool(plan, "payload.tlsVerify", True)
    else:
        raise _Invalid('names an unknown payload mode "{}" (embedded or online)'.format(mode))
    stateroot = _string(plan, "ostree.stateroot")
    if "/" in stateroot or stateroot in (".", ".."):
        raise _Invalid("has an invalid ostree.stateroot ({!r}: a single path component is expected)".format(stateroot))
    _string(plan, "ostree.ref")
    karg_list = _field(plan, "kargs")
    if not isinstance(karg_list, list):
        raise _Invalid("has an invalid kargs (a list of strings is expected)")
    for i, karg in enumerate(karg_list):
        why = kernel_args.problem(karg)
        if why:
            raise _Invalid("has an invalid kargs[{}]: {}".format(i, why))
    for key in ("layout.biosBootMiB", "layout.efiMiB", "layout.bootMiB", "layout.rootMinGiB"):
        _number(plan, key)
    filesystems = _strings(plan, "layout.filesystems")
    if not filesystems or not set(filesystems) <= set(FILESYSTEMS):
        raise _Invalid("has an invalid layout.filesystems (some of {} are expected)".format(", ".join(FILESYSTEMS)))
    if _string(plan, "layout.filesystem") not in filesystems:
        raise _Invalid("has a layout.filesystem that is not in layout.filesystems")
    _bool(plan, "layout.encryption", False)
    _strings(plan, "users.groups")
    _string(plan, "users.sudoGroup")
    shell = _string(plan, "users.shell")
    if not shell.startswith("/"):
        raise _Invalid("has an invalid users.shell (an absolute path is expected)")
    _number(plan, "requirements.storageGiB")
    _number(plan, "requirements.ramGiB", positive=False)
    scripts = _string(plan, "scripts")
    if not scripts.startswith("/"):
        raise _Invalid("has an invalid scripts (an absolute path is expected)")


def parse(text, path=DEFAULT_PATH):
    """The plan in text, validated; PlanError otherwise."""
    try:
        plan = json.loads(text)
    except ValueError as e:
        raise PlanError(path, "unreadable", "cannot be read ({})".format(e)) from None
    try:
        validate(plan)
    except _Invalid as e:
        raise PlanError(path, "invalid", str(e)) from None
    return plan


def load(path=DEFAULT_PATH):
    """The plan at path, validated; PlanError otherwise."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise PlanError(path, "missing", "does not exist") from None
    except (OSError, ValueError) as e:
        raise PlanError(path, "unreadable", "cannot be read ({})".format(e)) from None
    return parse(text, path)


# ---- what the plan says, derived ----

def tls_verify(plan):
    """An online payload's registry TLS setting, as the deploy scripts spell it."""
    return "true" if plan["payload"].get("tlsVerify", True) else "false"


def automatic_updates(plan):
    """image.auto_update: enable atomiso-update.timer in the deployment (ostree backend only;
    a bootc system updates with bootc's own units)."""
    return plan["backend"] == "ostree" and plan["image"].get("autoUpdate", False)


def payload_source(plan):
    """The layout directory (embedded) or the pinned reference (online)."""
    pay = plan["payload"]
    return pay["layout"] if pay["mode"] == "embedded" else pay["source"]


def payload_args(plan):
    """How the backend gets the image: the layout on the medium, or a pull from the registry."""
    if plan["payload"]["mode"] == "embedded":
        return ["--layout", plan["payload"]["layout"]]
    return ["--pull", plan["payload"]["source"], "--tls-verify", tls_verify(plan)]


def backend_path(plan):
    name = "ostree-deploy" if plan["backend"] == "ostree" else "bootc-deploy"
    return os.path.join(plan["scripts"], name)


def user_groups(plan, sudo=True):
    """The first user's groups: the plan's, then the sudo group; no duplicates."""
    groups = list(plan["users"]["groups"])
    if sudo:
        groups.append(plan["users"]["sudoGroup"])
    return list(dict.fromkeys(groups))


def main(argv):
    """python3 -m atomiso_live.plan payload PATH: prints "mode source digest scripts tls" (the
    payload check's inputs, one line of space-free words) or the plan's problem on stderr."""
    import sys

    if len(argv) != 2 or argv[0] != "payload":
        print("usage: python3 -m atomiso_live.plan payload PATH", file=sys.stderr)
        return 2
    try:
        plan = load(argv[1])
    except PlanError as e:
        print("atomiso-error: {}; the medium is damaged or was built wrongly: rebuild the ISO".format(e), file=sys.stderr)
        return 1
    fields = [plan["payload"]["mode"], payload_source(plan), plan["image"]["digest"], plan["scripts"], tls_verify(plan)]
    if any(not f or any(c.isspace() for c in f) for f in fields):
        print("atomiso-error: the install plan {} has white space in a payload field; rebuild the ISO".format(argv[1]), file=sys.stderr)
        return 1
    print(" ".join(fields))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
