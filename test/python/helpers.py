"""Shared fixtures for the atomiso_live unit tests (run by test/unit/live-python.test.ts)."""

import copy

DIGEST = "sha256:" + "ab" * 32

GOOD_PLAN = {
    "version": 1,
    "product": {"name": "ParticleOS", "id": "particleos", "version": "0.1.0"},
    "backend": "ostree",
    "image": {
        "reference": "registry.example.org/particleos/system:0.1.0",
        "digest": DIGEST,
        "pinned": "registry.example.org/particleos/system@" + DIGEST,
        "size": 1,
        "unpackedSize": 2,
    },
    "payload": {"mode": "embedded", "layout": "/run/live/medium/atomiso/payload"},
    "ostree": {"stateroot": "particleos", "ref": "atomiso/particleos"},
    "kargs": ["console=tty0", "console=ttyS0,115200"],
    "layout": {
        "table": "gpt",
        "biosBootMiB": 1,
        "efiMiB": 512,
        "bootMiB": 1024,
        "rootMinGiB": 8,
        "filesystem": "ext4",
        "filesystems": ["ext4", "xfs"],
        "encryption": False,
    },
    "users": {"groups": ["users", "audio"], "sudoGroup": "sudo", "shell": "/bin/bash"},
    "requirements": {"storageGiB": 12, "ramGiB": 2},
    "scripts": "/usr/lib/atomiso/deploy",
}


def plan(**changes):
    """GOOD_PLAN with dotted keys replaced (value None deletes the key)."""
    p = copy.deepcopy(GOOD_PLAN)
    for dotted, value in changes.items():
        keys = dotted.split("__")
        holder = p
        for k in keys[:-1]:
            holder = holder[k]
        if value is None:
            del holder[keys[-1]]
        else:
            holder[keys[-1]] = value
    return p
