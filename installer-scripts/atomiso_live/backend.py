"""The deploy backend (ostree-deploy, bootc-deploy): its argv, running it, its line protocol.

The protocol, as documented at the top of the deploy scripts:
  stdout  atomiso-progress <percent> <message>   how far it is, what it does now
          atomiso: <text>                        a fact worth showing (image verified, ...)
          atomiso-timing <step> <seconds>        how long a step took
          anything else                          helper output, for the log only
  stderr  atomiso-error: <message>               on failure, the one line to show the user
"""

import re
import subprocess
import threading
from collections import namedtuple

from . import plan as install_plan

# Lines an installer shows as they are (the unattended installer passes them through).
SHOWN_PREFIXES = ("atomiso-progress ", "atomiso: ", "atomiso-timing ")
ERROR_PREFIX = "atomiso-error:"

Progress = namedtuple("Progress", "percent message")
_PROGRESS = re.compile(r"^atomiso-progress\s+(\d+(?:\.\d+)?)\s*(.*)$")


def argv(plan, root, firmware, disk, log, extra_kargs=(), luks=()):
    """The backend's command line. The initramfs asks for the passphrase of each LUKS volume
    named by rd.luks.uuid= (luks: the UUIDs, in partition order)."""
    out = [
        install_plan.backend_path(plan),
        *install_plan.payload_args(plan),
        "--digest", plan["image"]["digest"],
        "--target-imgref", plan["image"]["reference"],
        "--root", root,
        "--stateroot", plan["ostree"]["stateroot"],
        "--ref", plan["ostree"]["ref"],
        "--firmware", firmware,
        "--disk", disk,
        "--log", log,
    ]
    for karg in list(plan["kargs"]) + list(extra_kargs) + ["rd.luks.uuid=" + u for u in luks]:
        out += ["--karg", karg]
    return out


def progress(line):
    """An atomiso-progress line as Progress(percent clamped to 0..100, message or ""), else None."""
    m = _PROGRESS.match(line)
    if not m:
        return None
    return Progress(min(max(float(m.group(1)), 0.0), 100.0), m.group(2))


def is_shown(line):
    """A stdout line an installer shows (progress, facts, timings) rather than only logs."""
    return line.startswith(SHOWN_PREFIXES)


def error_message(stderr_lines):
    """The last atomiso-error: message on stderr, or None."""
    found = [l[len(ERROR_PREFIX):].strip() for l in stderr_lines if l.startswith(ERROR_PREFIX)]
    return found[-1] if found else None


def run(argv, on_stdout, on_stderr=None):
    """Runs the backend; on_stdout(line) for each stdout line as it comes, on_stderr(line) for
    each stderr line (from another thread). Returns (exit status, stderr lines). Interrupted,
    it stops the backend before the caller takes the mounts away under it. OSError when it
    cannot be started."""
    p = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        bufsize=1,
    )
    errs = []

    def read_stderr():
        for line in p.stderr:
            line = line.rstrip("\n")
            errs.append(line)
            if on_stderr:
                on_stderr(line)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        for line in p.stdout:
            on_stdout(line.rstrip("\n"))
        status = p.wait()
    except BaseException:
        p.terminate()
        p.wait()
        raise
    finally:
        p.stdout.close()
    reader.join()
    p.stderr.close()
    return status, errs
