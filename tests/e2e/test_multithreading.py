"""kea-dhcp4 with multi-threading on (Kea 2.2 refuses libraries that do not
declare themselves compatible): under load, with wait true, every lease Kea
allocates had its lease4_select run, with that lease's own data (packet
threads run callouts at the same time; nothing may mix up).

The load is a fixed number of clients, several at a time, all of them
waited for: how many a machine serves per second is not what is tested.
"""

import re
from collections import Counter

import pytest
import reference
from lab import hook, matching
from lab.dhcp4 import Dhcp4Client

# INFO  [kea-dhcp4.leases/<pid>.<thread>] DHCP4_LEASE_ALLOC [hwtype=1 00:0c:01:02:03:04], cid=[...],
# tid=0x0: lease 10.0.0.5 has been allocated for 20 seconds
LEASE_ALLOC = re.compile(r"\[kea-dhcp4\.leases/\d+\.(\d+)\] DHCP4_LEASE_ALLOC \[hwtype=1 ([0-9a-f:]+)\]"
                         r".*: lease ([\d.]+) has been allocated")
# Clients, and how many of them talk to Kea at a time: twice its 4 packet
# threads, so that they are all busy together (48 leases fit the pool).
CLIENTS, AT_A_TIME = 48, 8


@pytest.mark.time_limit(60)
def test_every_allocated_lease_ran_its_script_under_load(lab, hook_so):
    rec = lab.recorder()
    kea = lab.start_kea(lab.config4(multi_threading=True, log_debuglevel=0,
                                    hooks=[hook(hook_so, script=rec.script, wait=True)]))
    assert kea.log_lines(r"DHCP4_MULTI_THREADING_INFO enabled: yes, number of threads: 4, queue size: 64")
    assert not kea.log_lines("HOOKS_LIBRARY_MULTI_THREADING_NOT_COMPATIBLE")

    macs = [f"02:00:00:4d:54:{i:02x}" for i in range(CLIENTS)]
    acks = lab.dhcp4_in_parallel(macs, Dhcp4Client.dora, clients=AT_A_TIME)  # dora() asserts its ACK
    assert len({ack.yiaddr for ack in acks.values()}) == CLIENTS
    allocations = [LEASE_ALLOC.search(line).groups() for line in kea.log_lines("DHCP4_LEASE_ALLOC")]
    assert sorted((mac, address) for _, mac, address in allocations) == sorted(
        (mac, ack.yiaddr) for mac, ack in acks.items())  # each ACK a new lease, logged once
    assert len({thread for thread, _, _ in allocations}) > 1  # on several packet threads

    calls = rec.calls()
    selects = matching(calls, "lease4_select", KEA_FAKE_ALLOCATION="0")
    # One lease4_select per allocation, with that allocation's address and MAC.
    ran = Counter((c.env["KEA_LEASE4_ADDRESS"], c.env["KEA_LEASE4_HWADDR"]) for c in selects)
    expected = Counter((address, mac) for _, mac, address in allocations)
    assert ran == expected, (f"allocated without their lease4_select: {sorted((expected - ran).elements())[:5]}; "
                             f"lease4_select for no allocation: {sorted((ran - expected).elements())[:5]}")
    for call in selects:
        env = call.env
        assert env["KEA_QUERY4_HWADDR"] == env["KEA_LEASE4_HWADDR"], env
        assert env["KEA_QUERY4_TYPE"] == "DHCPREQUEST"
    selected = {address for address, _ in ran}

    # Within each call, the query, the lease and the response belong together.
    for call in calls:
        env = call.env
        assert not reference.format_errors(env), (call.hook, reference.format_errors(env))
        if "KEA_LEASE4_HWADDR" in env:
            assert env["KEA_LEASE4_HWADDR"] == env["KEA_QUERY4_HWADDR"], env
        if call.hook == "pkt4_send":
            assert env["KEA_RESPONSE4_HWADDR"] == env["KEA_QUERY4_HWADDR"], env
            if env["KEA_RESPONSE4_TYPE"] == "DHCPACK":
                assert env["KEA_RESPONSE4_YIADDR"] in selected, env

    assert not kea.log_lines(r"RUNSCRIPT_(EXEC_FAILED|SPAWN_FAILED|EXIT_STATUS|KILLED|STATUS_LOST|TIMEOUT"
                             r"|CALLOUT_ERROR|STDERR)")
    assert kea.is_running()
    assert lab.dhcp4().dora("02:aa:bb:cc:dd:01").type == "DHCPACK"
