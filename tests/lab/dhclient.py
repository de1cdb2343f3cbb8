"""ISC dhclient as a real-world client in the client namespace.

Each DhClient has its own (empty) config, lease, pid and script files in
the work directory, so the host's /etc/dhcp and /var/lib/dhcp are never
read or written. After `-1` obtains a lease dhclient stays in the background
to renew it; release*() and close() stop it, and Network.close() kills
whatever is left in the namespace anyway.
"""

import os
import re
import shutil
import signal
from dataclasses import dataclass

from .netns import CLIENT_IFACE

# The hook script dhclient runs. It only manages the v4 address on veth-c,
# inside the client namespace: dhclient sends its RELEASE unicast through
# the kernel, which needs the leased address configured and its route.
_SCRIPT = """\
#!/bin/sh
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT)
    {ip} addr replace "$new_ip_address/$new_subnet_mask" dev "$interface" ;;
  EXPIRE|FAIL|RELEASE|STOP)
    [ -n "$old_ip_address" ] && {ip} addr del "$old_ip_address/$old_subnet_mask" dev "$interface" ;;
esac
exit 0
"""


@dataclass
class Lease6:
    addresses: list  # IA_NA addresses
    prefixes: list   # IA_PD prefixes as "prefix/len"


class DhClient:
    """dhclient for veth-c, with all its files under `<workdir>/<name>/`."""

    def __init__(self, net, workdir, name="dhclient"):
        self.netns = net.client
        self.dir = os.path.join(str(workdir), name)
        os.makedirs(self.dir, exist_ok=True)
        self.config = self._file("dhclient.conf", "")
        self.script = self._file("script.sh", _SCRIPT.format(ip=shutil.which("ip")))
        os.chmod(self.script, 0o755)

    def _file(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def _run(self, family, flags, timeout):
        lease_file = os.path.join(self.dir, f"leases{family}")
        argv = ["dhclient", f"-{family}", *flags, "-v", "-cf", self.config, "-lf", lease_file,
                "-pf", self._pid_file(family), "-sf", self.script, CLIENT_IFACE]
        result = self.netns.run(argv, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"dhclient {' '.join(flags)} failed ({result.returncode}):\n{result.stderr}")
        return lease_file

    def _pid_file(self, family):
        return os.path.join(self.dir, f"dhclient{family}.pid")

    def lease4(self, timeout=30):
        """DISCOVER/REQUEST once (`dhclient -4 -1`); return the bound address."""
        lease_file = self._run(4, ["-1"], timeout)
        with open(lease_file) as f:
            addresses = re.findall(r"fixed-address ([\d.]+);", f.read())
        assert addresses, f"dhclient -4 wrote no lease to {lease_file}"
        return addresses[-1]

    def release4(self, timeout=30):
        """Stop the background dhclient and send DHCPRELEASE (`dhclient -4 -r`)."""
        self._run(4, ["-r"], timeout)

    def lease6(self, na=True, pd=True, timeout=30):
        """SOLICIT/REQUEST once (`dhclient -6 -1` with -N and/or -P); return the last lease."""
        lease_file = self._run(6, ["-1"] + (["-N"] if na else []) + (["-P"] if pd else []), timeout)
        with open(lease_file) as f:
            last = f.read().rpartition("lease6 {")[2]
        return Lease6(addresses=re.findall(r"iaaddr ([0-9a-f:]+) \{", last),
                      prefixes=re.findall(r"iaprefix ([0-9a-f:]+/\d+) \{", last))

    def release6(self, na=True, pd=True, timeout=30):
        """Stop the background dhclient and send RELEASE (`dhclient -6 -r`)."""
        self._run(6, ["-r"] + (["-N"] if na else []) + (["-P"] if pd else []), timeout)

    def close(self):
        """Kill background dhclients this object started (if still running)."""
        for family in (4, 6):
            try:
                with open(self._pid_file(family)) as f:
                    pid = int(f.read().strip() or 0)
            except (FileNotFoundError, ValueError):
                continue
            if pid and pid in self.netns.pids():
                os.kill(pid, signal.SIGKILL)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
