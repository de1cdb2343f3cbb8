"""mount(2), umount2(2) and unshare(2) from Python: the lab needs a few mounts (a small tmpfs,
dhcpcd's state directories), and a Debian root made with only the essential packages has no
mount(8) (Debian 13 made it optional).

Run as a program, it starts another in a mount namespace of its own with some directories
replaced, nothing of which the rest of the system sees:

    python3 mounts.py --bind SRC:DST --tmpfs DIR ... -- PROGRAM ARGS...
"""

import ctypes
import os
import sys

MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 2
CLONE_NEWNS = 0x20000

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _bytes(value):
    return None if value is None else os.fsencode(value)


def mount(source, target, fstype=None, flags=0, data=None):
    """mount(2): e.g. mount("tmpfs", path, "tmpfs", data="size=1m,mode=0755")."""
    _check(_libc.mount(_bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags), _bytes(data)),
           f"mount {source} on {target}")


def umount(target, lazy=False):
    """umount2(2); `lazy`: detach now, free once nothing uses it."""
    _check(_libc.umount2(_bytes(target), MNT_DETACH if lazy else 0), f"umount {target}")


def private_mount_namespace():
    """Move this process to a mount namespace of its own whose mounts propagate nowhere."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    mount(None, "/", None, MS_REC | MS_PRIVATE)


def _main(argv):
    split = argv.index("--")
    options, program = argv[:split], argv[split + 1:]
    private_mount_namespace()
    for option, value in zip(options[::2], options[1::2]):
        if option == "--bind":
            source, _, target = value.partition(":")
            mount(source, target, None, MS_BIND)
        elif option == "--tmpfs":
            mount("tmpfs", value, "tmpfs", 0, "mode=0755")
        else:
            raise SystemExit(f"mounts.py: unknown option {option}")
    os.execv(program[0], program)


if __name__ == "__main__":
    _main(sys.argv[1:])
