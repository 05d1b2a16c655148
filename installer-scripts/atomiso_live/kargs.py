"""The kernel-argument grammar: one word per argument, `key` or `key=value`.

The installed system's boot entries and GRUB read these words, and logs and shells may show
them, so they carry no white space, no quotes and no GRUB or shell metacharacters
(; $ { } | & < > ` \\ ' " # * ? ! ( ) [ ] newline). Kernel arguments that need spaces or
quotes are not supported. The same grammar as the profile's iso.kernel_args and
installer.kernel_args (src/config/kernel-args.ts), so a plan atomiso wrote always passes.

  key    letters, digits, _ . - (the first one a letter, digit or _)
  value  letters, digits and _ . , : / = + @ % ~ - (may be empty); the whole word at most 256
"""

import re

_KARG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(=[A-Za-z0-9_.,:/@+=%~-]*)?")
GRAMMAR = "key or key=value: letters, digits, _ . - in the key; letters, digits, _ . , : / = + @ % ~ - in the value; no spaces, quotes or ; $ { } characters"


def problem(karg):
    """None when karg is a valid kernel argument, else what is wrong with it."""
    if not isinstance(karg, str):
        return "is not a string"
    if not karg:
        return "is empty"
    if len(karg) > 256:
        return "is longer than 256 characters"
    if not _KARG.fullmatch(karg):
        return "is not a kernel argument ({})".format(GRAMMAR)
    return None
