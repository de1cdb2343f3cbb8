"""A real authoritative DNS server for the dns-nsupdate example: Debian's BIND 9 (named), run in
the lab's server namespace on 127.0.0.1:53, with the zones of examples/dns-nsupdate/
named.conf.local and a fresh TSIG key. Everything lives in one temporary directory; named runs in
the foreground as our child (the lab's teardown kills whatever is left in the namespace)."""

import math
import shutil
import subprocess
from pathlib import Path

from lab.netns import stop_process
from lab.pace import scaled
from lab.wait import wait_until

from examples_support import EXAMPLES

NAMED = "/usr/sbin/named"
SERVER = "127.0.0.1"


def available():
    """None if named, dig, nsupdate and tsig-keygen are installed; else what is missing."""
    missing = [tool for tool in ("named", "dig", "nsupdate", "tsig-keygen") if not shutil.which(tool)
               and not Path(f"/usr/sbin/{tool}").exists()]
    return f"missing {', '.join(missing)} (bind9, bind9-dnsutils)" if missing else None


class Named:
    def __init__(self, netns, directory):
        self.netns = netns
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = self.dir / "kea-ddns.key"
        key = subprocess.run(["tsig-keygen", "-a", "hmac-sha256", "kea-ddns"], capture_output=True,
                             text=True, check=True, timeout=scaled(10)).stdout
        self.key.write_text(key)
        # The example's zones, with its /etc/bind and /var/lib/bind in our directory.
        zones = (EXAMPLES / "dns-nsupdate" / "named.conf.local").read_text()
        zones = zones.replace("/etc/bind/", f"{self.dir}/").replace("/var/lib/bind/", f"{self.dir}/")
        template = (EXAMPLES / "dns-nsupdate" / "db.zone.example").read_text()
        for name in ("db.example.org", "db.192.0.2", "db.2001-db8-1"):
            (self.dir / name).write_text(template)
        (self.dir / "named.conf").write_text(f"""
options {{
    directory "{self.dir}";
    pid-file "{self.dir}/named.pid";
    session-keyfile "{self.dir}/session.key";
    managed-keys-directory "{self.dir}";
    listen-on port 53 {{ {SERVER}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
}};
controls {{ }};
logging {{ channel stderr_ {{ stderr; severity info; }}; category default {{ stderr_; }}; }};
{zones}
""")
        self.log = open(self.dir / "named.log", "wb")
        self.proc = netns.popen([NAMED, "-g", "-c", self.dir / "named.conf"], stdout=self.log,
                                stderr=subprocess.STDOUT)
        wait_until(self._serving, timeout=15, what=f"named serving example.org (log: {self.log.name})")

    def _serving(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"named exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
        soa = self.dig("example.org", "SOA", check=False)
        return bool(soa)

    def log_text(self):
        return (self.dir / "named.log").read_text(errors="replace")

    def dig(self, name, rrtype="A", check=True):
        """The answers (dig +short) for `name`/`rrtype`, as a sorted list."""
        argv = ["dig", "+short", f"+time={math.ceil(scaled(1))}", "+tries=2", f"@{SERVER}"]
        argv += ["-x", name] if rrtype == "PTR" else [name, rrtype]
        result = self.netns.run(argv, check=check, timeout=10)
        return sorted(result.stdout.split()) if result.returncode == 0 else []

    def close(self):
        stop_process(self.proc)
        self.log.close()
