"""End-to-end lab for kea-hook-runscript: real Kea, real and crafted clients,
two network namespaces, no pytest needed (tests/e2e and demo/ share it).

Modules: netns (namespaces, veth, processes), kea (configs, KeaServer),
recorder (the hook script that records calls), control (Kea's command
channels: the unix socket, the agent's and Kea 3.0's HTTP), agent
(kea-ctrl-agent), dhcp4 / dhcp6 (scapy clients and relays), dhclient (and
dhcpcd, in its place where it is not installed; client_process, what the two
share), perfdhcp, spool (what the hook left in its spool: dead letters), lab
(Lab, which ties them together), wait (bounded waiting) and pace (how slow
this machine is: every deadline and timing window scales with it).
Import as `lab` with tests/ on sys.path, or as `tests.lab` from the repo root.
"""

from .kea import KeaServer, config4, config6, hook
from .lab import Lab
from .netns import Network, sweep_stale
from .pace import scaled, slack
from .recorder import Call, Recorder, matching, one
from .wait import WaitTimeout, wait_until

__all__ = ["Call", "KeaServer", "Lab", "Network", "Recorder", "WaitTimeout",
           "config4", "config6", "hook", "matching", "one", "scaled", "slack", "sweep_stale", "wait_until"]
