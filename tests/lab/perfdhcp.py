"""perfdhcp load from the client namespace: a fixed amount of work, waited
for to the end (never a rate or a duration, which depend on the machine).

perfdhcp draws each client's MAC at random among `-R` clients; with 2^24 of
them, two of a hundred exchanges share a MAC about once in 3,000 runs.

Its counts are approximate on a busy machine: it sends what its rate made
due before it checks `-n`, so it may start a few more exchanges than asked;
and it stops once it has twice `-n` answers, OFFERs and ACKs together,
reporting those still missing as drops. Count what Kea answered on Kea's
side (its statistics), or, for an exact load, use dhcp4.in_parallel().
"""

import re
from dataclasses import dataclass

from .netns import CLIENT_IFACE
from .pace import scaled

CLIENTS = 1 << 24


@dataclass
class PerfResult:
    returncode: int
    output: str
    exchanges: dict  # e.g. {"DISCOVER-OFFER": {"sent packets": 599, "received packets": 599, "drops": 0}, ...}

    def sent(self, exchange):
        return self.exchanges[exchange]["sent packets"]

    def received(self, exchange):
        return self.exchanges[exchange]["received packets"]


def _parse(output):
    exchanges = {}
    for block in re.split(r"^\*\*\*Statistics for: ", output, flags=re.M)[1:]:
        name, _, body = block.partition("***")
        exchanges[name] = {key: int(value) for key, value in
                           re.findall(r"^(sent packets|received packets|drops|orphans): (\d+)$", body, re.M)}
    return exchanges


def perfdhcp(net, family=4, exchanges=50, rate=100, extra=(), deadline=60):
    """Run perfdhcp for `exchanges` DORAs (v6: SARRs), started at most
    `rate` per second, each by a new client, until it has their answers;
    return a PerfResult.

    Nothing is given up early on a slow machine: no message counts as lost,
    and the run does not end, before `deadline` seconds (scaled); perfdhcp
    exits as soon as the answers are in. `-n` is given for both messages,
    or perfdhcp would stop once OFFERs and ACKs together reach `exchanges`.

    For v4, perfdhcp needs an IPv4 address on veth-c and puts it in giaddr,
    so the lab's relay address is added and the load lands in the relayed
    subnet 10.0.0.0/8. v6 uses veth-c's link-local."""
    if family == 4:
        net.add_relay_address()
    seconds = scaled(deadline)
    argv = ["perfdhcp", f"-{family}", "-n", exchanges, "-n", exchanges, "-r", rate, "-R", CLIENTS,
            "-d", f"{seconds:.0f}", "-d", f"{seconds:.0f}", "-p", f"{seconds:.0f}", "-W", int(seconds * 1e6),
            *extra, "-l", CLIENT_IFACE]
    result = net.client.run(argv, timeout=deadline + 15, check=False)  # Netns.run scales it
    output = result.stdout + result.stderr
    return PerfResult(returncode=result.returncode, output=output, exchanges=_parse(output))
