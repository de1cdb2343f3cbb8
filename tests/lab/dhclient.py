"""ISC dhclient as a real-world client in the client namespace.

Each DhClient has its own (empty) config, lease, pid and script files in
the work directory, so the host's /etc/dhcp and /var/lib/dhcp are never
read or written. dhclient runs in the foreground (-d), so it stays our
child: once it has a lease it keeps renewing it until release*() or
close(), and Network.close() stops it anyway.
"""

import codecs
import os
import re
import shutil
import subprocess

from . import apparmor
from .client_process import ClientProcesses, Lease6
from .netns import CLIENT_IFACE, stop_process
from .wait import wait_until

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

DHCLIENT = shutil.which("dhclient", path="/usr/sbin:/sbin") or "/sbin/dhclient"


class DhClient(ClientProcesses):
    """dhclient for veth-c, with all its files under `<workdir>/<name>/`."""

    def __init__(self, net, workdir, name="dhclient"):
        super().__init__(net, workdir, name)
        self.config = self._file("dhclient.conf", "")
        self.script = self._file("script.sh", _SCRIPT.format(ip=shutil.which("ip")))
        os.chmod(self.script, 0o755)

    def _file(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def _argv(self, family, flags):
        return [apparmor.program(DHCLIENT), f"-{family}", *flags, "-v", "-cf", self.config, "-lf", self._lease_file(family),
                "-pf", os.path.join(self.dir, f"dhclient{family}.pid"), "-sf", self.script, CLIENT_IFACE]

    def _lease_file(self, family):
        return os.path.join(self.dir, f"leases{family}")

    def _obtain(self, family, flags, timeout):
        """Start `dhclient -d -1 flags`; return the lease text it appends."""
        lease_file = self._lease_file(family)
        offset = os.path.getsize(lease_file) if os.path.exists(lease_file) else 0
        with open(os.path.join(self.dir, f"dhclient{family}.out"), "ab") as out:
            proc = self.netns.popen(self._argv(family, ["-d", "-1", *flags]), stdout=out, stderr=subprocess.STDOUT)
        self._procs[family] = proc

        def new_lease():
            if proc.poll() is not None:
                raise RuntimeError(f"dhclient -{family} exited with {proc.returncode}, see {out.name}")
            try:
                with open(lease_file) as f:
                    f.seek(offset)
                    text = f.read()
            except FileNotFoundError:
                return None
            return text if text.rstrip().endswith("}") else None  # the whole lease is written

        return wait_until(new_lease, timeout=timeout, what=f"a lease from dhclient -{family}")

    def _release(self, family, flags, timeout):
        """`dhclient -r`: it stops the running dhclient (via the pid file) and releases."""
        result = self.netns.run(self._argv(family, ["-r", *flags]), timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"dhclient -{family} -r failed ({result.returncode}):\n{result.stderr}")
        stop_process(self._procs.pop(family))  # already killed by -r: this reaps it

    def lease4(self, timeout=30):
        """DISCOVER/REQUEST; return the bound address."""
        addresses = re.findall(r"fixed-address ([\d.]+);", self._obtain(4, [], timeout))
        assert addresses, "dhclient -4 wrote a lease without an address"
        return addresses[-1]

    def release4(self, timeout=30):
        """Send DHCPRELEASE and stop dhclient -4."""
        self._release(4, [], timeout)

    def lease6(self, na=True, pd=True, timeout=30):
        """SOLICIT/REQUEST an address (-N) and/or a prefix (-P); return the lease."""
        last = self._obtain(6, _ia_flags(na, pd), timeout).rpartition("lease6 {")[2]
        return Lease6(addresses=re.findall(r"iaaddr ([0-9a-f:]+) \{", last),
                      prefixes=re.findall(r"iaprefix ([0-9a-f:]+/\d+) \{", last))

    def duid(self):
        """The DUID dhclient identifies itself with (its default-duid), as
        bytes. dhclient -6 writes it at the top of its lease file, as a
        string with octal escapes."""
        with open(self._lease_file(6)) as f:
            match = re.search(r'^default-duid "((?:[^"\\]|\\.)*)";', f.read(), re.M)
        assert match, "no default-duid in dhclient's lease file"
        return codecs.escape_decode(match.group(1).encode("latin-1"))[0]

    def release6(self, na=True, pd=True, timeout=30):
        """Send RELEASE and stop dhclient -6."""
        self._release(6, _ia_flags(na, pd), timeout)


def available():
    """Whether ISC dhclient is installed (Debian forky has none: lab.dhcpcd stands in)."""
    return os.path.exists(DHCLIENT)


def _ia_flags(na, pd):
    return (["-N"] if na else []) + (["-P"] if pd else [])
