"""GPT partition type GUIDs (upper case, as sfdisk scripts and its --json spell them)."""

ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
BIOS_BOOT = "21686148-6449-6E6F-744E-656564454649"
LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
ROOT_X86_64 = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"


def same(a, b):
    """GUIDs compare without regard to case (sfdisk prints either)."""
    return a.lower() == b.lower()
