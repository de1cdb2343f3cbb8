"""`"variables": "isc"` is a drop-in for ISC's libdhcp_run_script: the same client traffic goes
through Debian's libdhcp_run_script.so and through ours in isc mode, and at every hook point ISC's
library has, the script sees the same variable names with values of the same formats."""

import ipaddress
import os
import re
import time

import pytest

from lab import Lab, hook
from lab.kea import DEBIAN_HOOKS_DIR

ISC_SO = os.path.join(DEBIAN_HOOKS_DIR, "libdhcp_run_script.so")

V4_HOOKS = {"leases4_committed", "lease4_renew", "lease4_release", "lease4_decline", "lease4_expire",
            "lease4_recover"}
V6_HOOKS = {"leases6_committed", "lease6_renew", "lease6_rebind", "lease6_release", "lease6_decline",
            "lease6_expire", "lease6_recover"}

RECLAIM = {"reclaim-timer-wait-time": 1, "flush-reclaimed-timer-wait-time": 0, "hold-reclaimed-time": 0}


def value_format(value):
    """The kind of text a value is, which must not differ between the two libraries."""
    if value == "":
        return "empty"
    if value in ("true", "false"):
        return "bool"
    if re.fullmatch(r"\d+", value):
        return "int"
    if re.fullmatch(r"0x[0-9A-F]*", value):
        return "0x-hex"
    if re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2})*", value):
        return "colon-hex"
    try:
        return f"ipv{ipaddress.ip_address(value).version}"
    except ValueError:
        pass
    if re.fullmatch(r"[\d.:a-f]+/\d+", value):
        return "prefix"
    return "text"


def shapes(calls):
    """{hook: {variable: {formats seen}}}, PATH aside (ours sets it; ISC's sets nothing)."""
    seen = {}
    for call in calls:
        per_hook = seen.setdefault(call.hook, {})
        for name, value in call.env.items():
            if name != "PATH":
                per_hook.setdefault(name, set()).add(value_format(value))
    return seen


def v4_traffic(lab, rec, kea):
    client = lab.dhcp4()
    kept = client.relayed_discover("02:aa:bb:cc:dd:01", circuit_id="eth0", remote_id=b"\x02\xaa",
                                   hostname="client-a")
    acked = client.relayed_request("02:aa:bb:cc:dd:01", kept.yiaddr, kept.server_id, circuit_id="eth0",
                                   remote_id=b"\x02\xaa", hostname="client-a")
    assert acked.type == "DHCPACK"
    released = client.dora("02:aa:bb:cc:dd:02", client_id=b"\x01\x02\xaa\xbb\xcc\xdd\x02")
    client.release("02:aa:bb:cc:dd:02", released.yiaddr, released.server_id)
    renewed = client.dora("02:aa:bb:cc:dd:03", hostname="renewer")
    client.renew("02:aa:bb:cc:dd:03", renewed.yiaddr)
    declined = client.dora("02:aa:bb:cc:dd:04")
    client.decline("02:aa:bb:cc:dd:04", declined.yiaddr, declined.server_id)
    for name in V4_HOOKS:
        rec.wait_for(name, timeout=20)


def v6_traffic(lab, rec, kea):
    client = lab.dhcp6()
    mac = "02:00:00:00:01:c7"
    reply = client.sarr(mac, na=True, pd=True, fqdn="host.example.com.", iaid_na=7, iaid_pd=8)
    client.renew(mac, reply)
    client.rebind(mac, reply)
    released = client.sarr("02:00:00:00:01:3f", na=True, pd=True)
    client.release("02:00:00:00:01:3f", released)
    other = client.sarr("02:00:00:00:01:7f")
    client.decline("02:00:00:00:01:7f", other)
    for name in V6_HOOKS:
        rec.wait_for(name, timeout=20)


def record(lab, family, library_entry):
    rec = lab.recorder()
    config = getattr(lab, f"config{family}")(valid_lifetime=3, reclaim=RECLAIM,
                                            hooks=[library_entry(rec.script)])
    kea = lab.start_kea(config)
    (v4_traffic if family == 4 else v6_traffic)(lab, rec, kea)
    kea.stop()
    return shapes(rec.calls())


def isc_entry(script):
    return hook(ISC_SO, name=script, sync=False)


@pytest.mark.time_limit(120)
@pytest.mark.parametrize("family, hooks", [(4, V4_HOOKS), (6, V6_HOOKS)])
def test_same_names_and_formats_as_isc_run_script(lab, hook_so, family, hooks):
    ours = record(lab, family, lambda script: hook(str(hook_so), script=script, variables="isc"))
    with Lab() as isc_lab:
        theirs = record(isc_lab, family, isc_entry)
    assert hooks <= set(theirs), f"ISC's library did not fire {hooks - set(theirs)}"
    assert set(ours) == set(theirs), "fired at other hook points than ISC's library"
    for name in sorted(hooks):
        assert sorted(ours[name]) == sorted(theirs[name]), f"{name}: variable names differ"
        for variable, formats in theirs[name].items():
            assert ours[name][variable] == formats, f"{name} {variable}: {ours[name][variable]} vs {formats}"


def test_isc_names_are_accepted_and_sync_really_waits(lab, hook_so):
    """"name" and "sync" are ISC's keys; with "sync": true Kea waits for the script, which ISC's
    library accepts but ignores."""
    rec = lab.recorder(tail="/bin/sleep 1")
    kea = lab.start_kea(lab.config4(hooks=[hook(str(hook_so), name=rec.script, sync=True,
                                                variables="isc")]))
    client = lab.dhcp4()
    offer = client.discover("02:aa:bb:cc:dd:05")
    started = time.monotonic()
    ack = client.request("02:aa:bb:cc:dd:05", offer.yiaddr, offer.server_id)
    elapsed = time.monotonic() - started
    assert ack is not None and ack.type == "DHCPACK"
    # leases4_committed ran before Kea answered: the answer took the script's second.
    assert elapsed >= 0.9, elapsed
    (call,) = rec.wait_for("leases4_committed")
    assert call.env["LEASES4_SIZE"] == "1" and call.env["LEASES4_AT0_ADDRESS"] == ack.yiaddr
    assert call.env["QUERY4_RELAYED"] == "false"
    kea.stop()
