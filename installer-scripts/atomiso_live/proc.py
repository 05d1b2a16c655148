"""Running commands: argv lists only, never a shell string."""

import re
import subprocess


class ToolMissing(Exception):
    """The program is not installed (argv[0] not found)."""


def quote(argv):
    """argv as one readable, pasteable line (for logs)."""
    return " ".join(a if re.fullmatch(r"[\w@%+=:,./-]+", a) else repr(a) for a in argv)


def run(argv, stdin=None):
    """Runs argv to completion with its output captured; (status, stdout, stderr)."""
    try:
        p = subprocess.run(argv, input=stdin, capture_output=True, text=True, errors="replace", check=False)
    except FileNotFoundError:
        raise ToolMissing(argv[0]) from None
    return p.returncode, p.stdout or "", p.stderr or ""


def failure(argv):
    """Runs argv; None on success, else its last output line (or its exit status)."""
    try:
        status, out, err = run(argv)
    except ToolMissing:
        return "{} is not installed".format(argv[0])
    if status == 0:
        return None
    lines = (err or out).strip().splitlines()
    return lines[-1] if lines else "exit status {}".format(status)
