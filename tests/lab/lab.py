"""Lab: one network, its work directory, and everything started in it.

    with Lab() as lab:
        rec = lab.recorder()
        kea4 = lab.start_kea(lab.config4(hooks=[hook(SO, script=rec.script, wait=True)]))
        ack = lab.dhcp4().dora("02:aa:bb:cc:dd:01", hostname="client-a")
        rec.wait_for("lease4_select")

close() (or leaving the `with`) stops Kea and the clients and removes the
namespaces, whatever state the test left them in.
"""

import os
import shutil
import tempfile

from . import agent, kea
from . import dhclient as _dhclient
from .dhclient import DhClient
from .dhcpcd import Dhcpcd
from .dhcp4 import Dhcp4Client, in_parallel
from .dhcp6 import Dhcp6Client
from .netns import Network
from .perfdhcp import perfdhcp
from .recorder import Recorder


class Lab:
    """A Network plus a work directory: `workdir` if given (kept), else a
    temporary one, removed by close() unless keep_workdir is true."""

    def __init__(self, workdir=None, keep_workdir=False):
        self._remove_workdir = workdir is None and not keep_workdir
        self.workdir = str(workdir) if workdir else tempfile.mkdtemp(prefix="kealab-")
        os.makedirs(self.workdir, exist_ok=True)
        self._closers = []
        try:
            self.net = Network()
        except BaseException:
            if self._remove_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)
            raise

    def config4(self, **kwargs):
        """kea.config4() with this lab's work directory."""
        return kea.config4(self.workdir, **kwargs)

    def config6(self, **kwargs):
        """kea.config6() with this lab's work directory."""
        return kea.config6(self.workdir, **kwargs)

    def start_kea(self, config, timeout=15, env=None):
        """Start Kea (v4 or v6, from the config's top key) in the server
        namespace; return the KeaServer once it is serving (within `timeout`
        seconds, scaled). `env` adds variables to Kea's own environment."""
        return self._own(kea.KeaServer(self.net.server, self.workdir, config, start_timeout=timeout, env=env))

    def start_agent(self, kea_server):
        """A kea-ctrl-agent (lab.agent.ControlAgent) in front of `kea_server`'s control socket,
        stopped before the server is. Its channel() is the agent's HTTP API."""
        return self._own(agent.ControlAgent(kea_server))

    @property
    def scripts_dir(self):
        """Where the lab's hook scripts live: the work directory, which every Kea the lab
        starts takes as its scripts directory (kea.KeaServer), so that Kea 3.0 lets a hook
        library run them."""
        return self.workdir

    def script(self, name, body, interpreter="/bin/sh"):
        """An executable script `<workdir>/<name>` running `body`; returns its path."""
        path = os.path.join(self.scripts_dir, name)
        with open(path, "w") as f:
            f.write(f"#!{interpreter}\n{body.rstrip()}\n")
        os.chmod(path, 0o755)
        return path

    def recorder(self, name="recorder", tail="exit 0"):
        """A new Recorder: its records in `<workdir>/<name>/`, its script `<name>.sh` in the
        scripts directory."""
        return Recorder(os.path.join(self.workdir, name), tail=tail,
                        script=os.path.join(self.scripts_dir, f"{name}.sh"))

    def dhcp4(self, timeout=None):
        """A scapy DHCPv4 client (and relay) on veth-c. It waits for each
        answer up to a generous deadline; for messages that must get none, a
        test narrows that to a short window (wait.expect_silence(), or an
        explicit `timeout`)."""
        return self._own(Dhcp4Client(self.net, timeout=timeout))

    def dhcp4_in_parallel(self, macs, exchange, clients=8):
        """dhcp4.in_parallel() on this lab's network: e.g. the DORA of each
        of `macs` (exchange=Dhcp4Client.dora), `clients` at a time."""
        return in_parallel(self.net, macs, exchange, clients)

    def dhcp6(self, timeout=None):
        """A scapy DHCPv6 client (and relay) on veth-c; `timeout` as for dhcp4()."""
        return self._own(Dhcp6Client(self.net, timeout=timeout))

    def dhclient(self, name="dhclient"):
        """A real DHCP client with its files in `<workdir>/<name>/`: ISC dhclient, or dhcpcd
        (lab.dhcpcd, the same methods) where dhclient is not installed."""
        client = DhClient if _dhclient.available() else Dhcpcd
        return self._own(client(self.net, self.workdir, name=name))

    def perfdhcp(self, **kwargs):
        """perfdhcp.perfdhcp() on this lab's network."""
        return perfdhcp(self.net, **kwargs)

    def _own(self, thing):
        self._closers.append(thing.close)
        return thing

    def close(self):
        """Stop everything started through the lab, then remove the network."""
        try:
            for close in reversed(self._closers):
                close()
        finally:
            self._closers.clear()
            self.net.close()
            if self._remove_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
