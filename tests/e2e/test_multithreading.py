"""kea-dhcp4 with multi-threading on (Kea 2.2 refuses libraries that do not
declare themselves compatible): under perfdhcp load, with wait true, every
lease Kea allocates had its lease4_select run, with that lease's own data
(packet threads run callouts at the same time; nothing may mix up).
"""

import re

import pytest
import reference
from lab import hook, matching

# INFO  [kea-dhcp4.leases/<pid>.<thread>] DHCP4_LEASE_ALLOC [hwtype=1 00:0c:01:02:03:04], cid=[...],
# tid=0x0: lease 10.0.0.5 has been allocated for 20 seconds
LEASE_ALLOC = re.compile(r"\[kea-dhcp4\.leases/\d+\.(\d+)\] DHCP4_LEASE_ALLOC \[hwtype=1 ([0-9a-f:]+)\]"
                         r".*: lease ([\d.]+) has been allocated")


@pytest.mark.time_limit(60)
def test_every_allocated_lease_ran_its_script_under_load(lab, hook_so):
    rec = lab.recorder()
    kea = lab.start_kea(lab.config4(multi_threading=True, log_debuglevel=0,
                                    hooks=[hook(hook_so, script=rec.script, wait=True)]))
    assert kea.log_lines(r"DHCP4_MULTI_THREADING_INFO enabled: yes, number of threads: 4, queue size: 64")
    assert not kea.log_lines("HOOKS_LIBRARY_MULTI_THREADING_NOT_COMPATIBLE")

    result = lab.perfdhcp(rate=60, duration=3, clients=300)
    acks = result.received("REQUEST-ACK")
    allocations = [LEASE_ALLOC.search(line).groups() for line in kea.log_lines("DHCP4_LEASE_ALLOC")]
    allocated = {address: mac for _, mac, address in allocations}
    assert acks >= 30, result.output  # the load really happened (~100 on 2 idle cores)
    assert len(allocated) >= acks  # each ACK a new lease (every perfdhcp client is new)
    assert len({thread for thread, _, _ in allocations}) > 1  # on several packet threads

    calls = rec.calls()
    selected = {}
    for call in matching(calls, "lease4_select", KEA_FAKE_ALLOCATION="0"):
        selected.setdefault(call.env["KEA_LEASE4_ADDRESS"], []).append(call.env)
    missing = sorted(set(allocated) - set(selected))
    assert not missing, f"{len(missing)} allocated leases without a lease4_select call, e.g. {missing[:5]}"
    for address, mac in allocated.items():
        (env,) = selected[address]
        assert env["KEA_LEASE4_HWADDR"] == env["KEA_QUERY4_HWADDR"] == mac, (address, env)
        assert env["KEA_QUERY4_TYPE"] == "DHCPREQUEST"

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
