"""Running Kea and dhclient in the lab on a host where AppArmor confines them.

Debian 12 ships enforced AppArmor profiles for kea-dhcp4, kea-dhcp6 and dhclient. They let those
programs read only their standard files and execute nothing but kea-lfc or dhclient-script: under
them, Kea could neither read the lab's configuration nor load the freshly built library nor run
a hook script. A profile attaches to a program by its path, so the lab runs a copy of a confined
program from a directory of its own, which no profile names. This changes nothing on the host
and needs no AppArmor tool; operators deploying the hook need a rule instead (docs/faq.md).
"""

import os
import shutil
import tempfile

PROFILES = "/sys/kernel/security/apparmor/profiles"
COPIES = os.path.join(tempfile.gettempdir(), "kealab-unconfined")


def _enforced_profiles():
    try:
        with open(PROFILES) as f:
            lines = f.read().splitlines()
    except OSError:
        return []  # no AppArmor, or not readable: nothing is confined
    return [line.rpartition(" ")[0] for line in lines if line.endswith(" (enforce)")]


def confined(path):
    """Whether an enforced profile names `path`'s program (profiles may use globs such as
    /{,usr/}sbin/dhclient, so the program's name is what is compared)."""
    name = os.path.basename(path)
    return any(os.path.basename(profile) == name for profile in _enforced_profiles())


def program(path):
    """`path`, or an up-to-date unconfined copy of it when AppArmor confines it."""
    if not confined(path):
        return path
    os.makedirs(COPIES, exist_ok=True)
    copy = os.path.join(COPIES, os.path.basename(path))
    if not os.path.exists(copy) or os.path.getmtime(copy) < os.path.getmtime(path):
        shutil.copy2(path, copy + ".tmp")
        os.replace(copy + ".tmp", copy)
    return copy
