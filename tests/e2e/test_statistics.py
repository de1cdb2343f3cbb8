"""Statistics and the runscript-status command, on a real kea-dhcp4 through its control socket.

Two scripts: a slow one Kea does not wait for (index 0: it holds every event while a flag file
exists, as a DNS server that does not answer would) and a quick one Kea waits for (index 1).
A fixed number of clients each commit a lease; the test asserts what Kea's statistic-get-all
and runscript-status say while the slow script holds the events and after it let them go, then
that a reconfiguration without the library takes the statistics and the command away.

The library publishes its statistics from Kea's main loop, which wakes about once a second when
idle: every check waits (generous deadlines, lab.wait_until); none asserts a time.
"""

import os

import pytest
from lab import hook, wait_until
from lab.control import runscript_statistics, runscript_status
from lab.dhcp4 import Dhcp4Client

CLIENTS = 12
MACS = [f"02:5a:00:00:00:{i:02x}" for i in range(CLIENTS)]

SLOW_SCRIPT = """\
while [ -e "$FLAG" ]; do /bin/sleep 0.05; done
echo "$1" >> "$LEDGER"
"""

# Every statistic of a script with a queue; a waited-for script has the run counters only.
QUEUE_STATS = ["events-queued", "delivered", "failed", "dropped", "dead-lettered", "queue-depth",
               "spool-depth", "spool-bytes", "oldest-age", "runs-started", "runs-killed",
               "exec-failures", "worker-restarts"]
RUN_STATS = ["failed", "runs-started", "runs-killed", "exec-failures", "worker-restarts"]


def stat_reaches(kea, name, predicate):
    """Waits until statistic `name` satisfies `predicate`; returns all of them then."""
    def check():
        stats = runscript_statistics(kea.channel)
        return stats if name in stats and predicate(stats[name]) else None
    return wait_until(check, timeout=30, what=f"{name} to reach its value in statistic-get-all")


@pytest.mark.parametrize("multi_threading", [False, True], ids=["single-threaded", "multi-threaded"])
def test_statistics_and_status_follow_the_events(lab, hook_so, multi_threading):
    flag = os.path.join(lab.workdir, "dns-server-down")
    ledger = os.path.join(lab.workdir, "ledger")
    open(flag, "w").close()
    slow = lab.script("slow.sh", SLOW_SCRIPT)
    quick = lab.script("quick.sh", "exit 0")
    parameters = {"spool-dir": lab.workdir, "scripts": [
        {"script": slow, "wait": False, "hooks": ["leases4_committed"], "max-concurrency": 1,
         "queue-limit": 4, "env": {"FLAG": flag, "LEDGER": ledger}},
        {"script": quick, "wait": True, "hooks": ["leases4_committed"]},
    ]}
    cfg = lab.config4(log_debuglevel=0, multi_threading=multi_threading,
                      hooks=[hook(hook_so, **parameters)])
    kea = lab.start_kea(cfg)

    # Set to 0 at load: there before any event.
    stats = wait_until(lambda: runscript_statistics(kea.channel) or None, timeout=10, what="runscript statistics")
    for name in QUEUE_STATS:
        assert f"runscript[0].{name}" in stats, sorted(stats)
    for name in RUN_STATS:
        assert f"runscript[1].{name}" in stats, sorted(stats)
    assert "runscript[1].events-queued" not in stats  # no queue: no queue statistics

    acks = lab.dhcp4_in_parallel(MACS, Dhcp4Client.dora, clients=4)
    assert len(acks) == CLIENTS

    # Every committed lease queued; the slow script holds them: in memory, and on disk past
    # its queue-limit.
    stats = stat_reaches(kea, "runscript[0].events-queued", lambda v: v == CLIENTS)
    stats = stat_reaches(kea, "runscript[0].queue-depth", lambda v: v > 0)
    assert stats["runscript[0].delivered"] == 0
    stats = stat_reaches(kea, "runscript[0].spool-depth", lambda v: v > 0)
    stats = stat_reaches(kea, "runscript[1].runs-started", lambda v: v == CLIENTS)
    assert stats["runscript[1].failed"] == 0

    scripts = runscript_status(kea.channel)
    assert [s["index"] for s in scripts] == [0, 1]
    held = scripts[0]
    assert held["script"] == slow and held["mode"] == "exec" and held["wait"] is False
    assert held["hooks"] == ["leases4_committed"]
    assert held["events-queued"] == CLIENTS
    assert held["delivered"] == 0
    assert held["queue-depth"] + held["spool-depth"] == CLIENTS
    assert held["last-error"] is None
    assert "worker" not in held
    waited = scripts[1]
    assert waited["script"] == quick and waited["wait"] is True
    assert waited["runs-started"] == CLIENTS and waited["failed"] == 0
    assert "queue-depth" not in waited

    # Let them go: all delivered, nothing left waiting.
    os.unlink(flag)
    stat_reaches(kea, "runscript[0].delivered", lambda v: v == CLIENTS)
    stats = stat_reaches(kea, "runscript[0].queue-depth", lambda v: v == 0)
    stats = stat_reaches(kea, "runscript[0].spool-depth", lambda v: v == 0)
    assert stats["runscript[0].events-queued"] == CLIENTS
    assert stats["runscript[0].failed"] == stats["runscript[0].dead-lettered"] == 0
    with open(ledger) as f:
        assert len(f.read().splitlines()) == CLIENTS

    done = runscript_status(kea.channel)[0]
    assert done["delivered"] == CLIENTS and done["events-queued"] == CLIENTS
    assert done["queue-depth"] == 0 and done["spool-depth"] == 0 and done["oldest-age"] == 0
    assert done["runs-started"] == CLIENTS

    # statistic-reset works on counters published as deltas; the next events add to 0.
    kea.command("statistic-reset", {"name": "runscript[1].runs-started"})
    assert runscript_statistics(kea.channel)["runscript[1].runs-started"] == 0

    # A bad argument: an error that names it.
    answer = kea.channel.answer("runscript-status", {"script": 0, "bogus": True})
    assert answer["result"] == 1, answer
    assert "'bogus'" in answer["text"] and "'script'" in answer["text"], answer

    # Without the library: no statistics, no command.
    kea.config["Dhcp4"]["hooks-libraries"] = []
    kea.reload()
    assert runscript_statistics(kea.channel) == {}
    answer = kea.channel.answer("runscript-status")
    assert answer["result"] == 2, answer
