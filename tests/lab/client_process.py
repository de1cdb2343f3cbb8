"""What the lab's real-world DHCP clients share (dhclient.DhClient, dhcpcd.Dhcpcd), so that tests
take either: a work directory of their own, their running processes, one per address family,
which close() (or the end of a `with` block) stops, and the DHCPv6 lease they return.
"""

import os
from dataclasses import dataclass

from .netns import stop_process


@dataclass
class Lease6:
    addresses: list  # IA_NA addresses
    prefixes: list   # IA_PD prefixes as "prefix/len"


class ClientProcesses:
    """A client for veth-c whose files are all under `<workdir>/<name>/` (self.dir)."""

    def __init__(self, net, workdir, name):
        self.netns = net.client
        self.dir = os.path.join(str(workdir), name)
        os.makedirs(self.dir, exist_ok=True)
        self._procs = {}  # family -> the running client

    def close(self):
        """Stop the clients still running (without releasing)."""
        for proc in self._procs.values():
            stop_process(proc)
        self._procs.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
