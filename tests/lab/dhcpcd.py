"""dhcpcd as the lab's real-world client where ISC dhclient is not installed (Debian forky
dropped isc-dhcp-client): the same interface as dhclient.DhClient, so tests take whichever the
system has through Lab.dhclient().

dhcpcd keeps its state in fixed places, /var/lib/dhcpcd (leases, the DUID) and /run/dhcpcd
(pid files, control sockets). So each dhcpcd runs in a mount namespace of its own in which
`<workdir>/<name>/db` is /var/lib/dhcpcd and `<workdir>/<name>/run` is /run: it never reads or
writes the system's, and no two lab clients share a lease or a DUID. Its config is a file of
its own too, and its hook script only records what dhcpcd tells it (dhcpcd configures the
interface itself). dhcpcd runs in the foreground (-B), so it stays our child: once it has a
lease it keeps renewing it until release*() or close(), and Network.close() stops it anyway.

One difference shows in what Kea sees: dhcpcd waits out its first SOLICIT's retransmission time
for more ADVERTISEs and solicits again before it requests (in the lab dhclient solicits once).
"""

import os
import re
import shlex
import shutil
import subprocess
import sys

from . import apparmor, mounts
from .client_process import ClientProcesses, Lease6
from .netns import CLIENT_IFACE, stop_process
from .pace import scaled
from .wait import wait_until

DHCPCD = shutil.which("dhcpcd", path="/usr/sbin:/sbin") or "/usr/sbin/dhcpcd"

# Every call: its environment (reason, interface, new_* ...), NUL-separated, one file per call
# written under a temporary name, so a reader never sees half of one.
_SCRIPT = """\
#!/bin/sh
f={events}/$(/bin/date +%s%N)-$$
/usr/bin/env -0 > "$f.tmp" && /bin/mv "$f.tmp" "$f.event"
exit 0
"""

# Leases as quickly as a server answers: no random start delay, no ARP probe of the offered
# address (nor IPv4LL), no router solicitation (the lab sends no router advertisements, so
# DHCPv6 starts at once), and an address and a prefix asked for on veth-c. The prefix is
# assigned to no interface ("-"): only the lease is wanted, as from dhclient -P.
_CONFIG = """\
nodelay
noarp
noipv6rs
interface {iface}
{ia}
"""

# How dhcpcd names what a DHCPv6 lease holds: new_dhcp6_ia_na1_ia_addr1=2001:db8:1::101 and
# new_dhcp6_ia_pd1_prefix1=2001:db8:8000:100::, new_dhcp6_ia_pd1_prefix1_length=56 (each also with
# _pltime and _vltime).
_IA_ADDR = re.compile(r"new_dhcp6_ia_na\d+_ia_addr\d+")
_IA_PREFIX = re.compile(r"new_dhcp6_ia_pd\d+_prefix\d+")

_BOUND = {4: ("BOUND", "RENEW", "REBIND", "REBOOT"), 6: ("BOUND6", "RENEW6", "REBIND6", "REBOOT6")}


class Dhcpcd(ClientProcesses):
    """dhcpcd for veth-c, with all its files under `<workdir>/<name>/`."""

    def __init__(self, net, workdir, name="dhclient"):
        super().__init__(net, workdir, name)
        self.db = os.path.join(self.dir, "db")
        self.run = os.path.join(self.dir, "run")
        self.events = os.path.join(self.dir, "events")
        for directory in (self.db, self.run, self.events):
            os.makedirs(directory, exist_ok=True)
        self.script = os.path.join(self.dir, "script.sh")
        with open(self.script, "w") as f:
            f.write(_SCRIPT.format(events=shlex.quote(self.events)))
        os.chmod(self.script, 0o755)

    def _argv(self, family, flags):
        """`dhcpcd -4|-6 FLAGS veth-c` in a mount namespace where /var/lib/dhcpcd is self.db and /run
        self.run (lab/mounts.py): every dhcpcd of this client, the one that gets the lease and
        the one that tells it to release, sees the same state."""
        return [sys.executable, mounts.__file__, "--bind", f"{self.db}:/var/lib/dhcpcd", "--bind", f"{self.run}:/run",
                "--", apparmor.program(DHCPCD), f"-{family}", *flags, CLIENT_IFACE]

    def _config_path(self, family):
        return os.path.join(self.dir, f"dhcpcd{family}.conf")

    def _config(self, family, ia):
        path = self._config_path(family)
        with open(path, "w") as f:
            f.write(_CONFIG.format(iface=CLIENT_IFACE, ia=ia))
        return path

    def _calls(self):
        """The recorded calls in order: [(name, {variable: value})]."""
        calls = []
        for name in sorted(n for n in os.listdir(self.events) if n.endswith(".event")):
            with open(os.path.join(self.events, name), "rb") as f:
                entries = f.read().split(b"\0")
            env = dict(e.decode(errors="surrogateescape").split("=", 1) for e in entries if b"=" in e)
            calls.append((name, env))
        return calls

    def _obtain(self, family, ia, timeout):
        """Start dhcpcd for `family`; return the variables of the call that reports its lease."""
        seen = {name for name, _ in self._calls()}
        config = self._config(family, ia)
        out_path = os.path.join(self.dir, f"dhcpcd{family}.out")
        with open(out_path, "ab") as out:
            proc = self.netns.popen(self._argv(family, ["-B", "-d", "-f", config, "-c", self.script]),
                                    stdout=out, stderr=subprocess.STDOUT)
        self._procs[family] = proc

        def bound():
            if proc.poll() is not None:
                raise RuntimeError(f"dhcpcd -{family} exited with {proc.returncode}, see {out_path}")
            for name, env in self._calls():
                if name not in seen and env.get("interface") == CLIENT_IFACE and env.get("reason") in _BOUND[family]:
                    return env
            return None

        return wait_until(bound, timeout=timeout, what=f"a lease from dhcpcd -{family}")

    def _release(self, family, timeout):
        """dhcpcd -k: it has the running dhcpcd release its lease, and then that one exits."""
        proc = self._procs.pop(family)
        result = self.netns.run(self._argv(family, ["-k", "-f", self._config_path(family)]), timeout=timeout,
                                check=False)
        if result.returncode != 0:
            stop_process(proc)
            raise RuntimeError(f"dhcpcd -{family} -k failed ({result.returncode}):\n{result.stderr}")
        try:
            proc.wait(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            stop_process(proc)
            raise RuntimeError(f"dhcpcd -{family} still running {scaled(timeout):.0f} s after releasing")

    def lease4(self, timeout=30):
        """DISCOVER/REQUEST; return the bound address."""
        address = self._obtain(4, "", timeout).get("new_ip_address")
        assert address, "dhcpcd -4 reported a lease without an address"
        return address

    def release4(self, timeout=30):
        """Send DHCPRELEASE and stop dhcpcd -4."""
        self._release(4, timeout)

    def lease6(self, na=True, pd=True, timeout=30):
        """SOLICIT/REQUEST an address (IA_NA 1) and/or a prefix (IA_PD 2); return the lease."""
        ia = "\n".join((["ia_na 1"] if na else []) + (["ia_pd 2 -"] if pd else []))
        env = self._obtain(6, ia, timeout)
        addresses = [env[name] for name in sorted(env) if _IA_ADDR.fullmatch(name)]
        prefixes = [f"{env[name]}/{env[name + '_length']}" for name in sorted(env) if _IA_PREFIX.fullmatch(name)]
        return Lease6(addresses=addresses, prefixes=prefixes)

    def duid(self):
        """The DUID dhcpcd identifies itself with, as bytes: what it keeps in
        /var/lib/dhcpcd/duid (here the db directory), as colon-separated hex."""
        with open(os.path.join(self.db, "duid")) as f:
            text = f.read().strip()
        return bytes.fromhex(text.replace(":", ""))

    def release6(self, na=True, pd=True, timeout=30):
        """Send RELEASE and stop dhcpcd -6 (for what it asked for: `na` and `pd` are as given
        to lease6())."""
        self._release(6, timeout)


def available():
    """Whether dhcpcd is installed."""
    return os.path.exists(DHCPCD)

