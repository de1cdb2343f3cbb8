"""perfdhcp load from the client namespace: bounded in rate and duration,
it stops by itself (and is killed if it overstays)."""

import re
from dataclasses import dataclass

from .netns import CLIENT_IFACE


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


def perfdhcp(net, family=4, rate=200, duration=5, clients=500, extra=(), grace=15):
    """Run `perfdhcp -<family> -r rate -p duration -R clients -l veth-c`.

    For v4, perfdhcp needs an IPv4 address on veth-c and puts it in giaddr,
    so the lab's relay address is added and the load lands in the relayed
    subnet 10.0.0.0/8. v6 uses veth-c's link-local. Returns a PerfResult;
    the run is killed `grace` seconds after `duration`."""
    if family == 4:
        net.add_relay_address()
    argv = ["perfdhcp", f"-{family}", "-r", rate, "-p", duration, "-R", clients, *extra, "-l", CLIENT_IFACE]
    result = net.client.run(argv, timeout=duration + grace, check=False)
    output = result.stdout + result.stderr
    return PerfResult(returncode=result.returncode, output=output, exchanges=_parse(output))
