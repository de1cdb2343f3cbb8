"""runscript-pause, runscript-resume and runscript-dead-letters, on a real kea-dhcp4 through its
control socket.

Pausing: a script Kea does not wait for is paused, a fixed number of clients each go through a
DORA, and runscript-status and Kea's statistics show their events waiting in the spool with none
delivered; resumed, every event is delivered once, each client's in the order they happened.
A reconfiguration while paused starts unpaused and delivers what waited.

Dead letters: a script that kills itself while a flag file exists fails every delivery, so each
event is set aside after "max-attempts"; the command lists them, and once the flag is gone (the
script mended) a retry delivers them; new ones are then dropped.

Every bad command or argument gets result 1 and a text that names the problem. No check asserts
a time: every wait is a generous deadline (lab.wait_until).
"""

import os
from collections import defaultdict

from lab import hook, wait_until
from lab.control import ok, runscript_statistics, runscript_status
from lab.dhcp4 import Dhcp4Client

CLIENTS = 8
MACS = [f"02:5c:00:00:00:{i:02x}" for i in range(CLIENTS)]
# A DORA makes three events here: the offer's lease4_select (a fake allocation), the request's,
# and leases4_committed.
EVENTS_PER_CLIENT = [("lease4_select", "1"), ("lease4_select", "0"), ("leases4_committed", "-")]

# One line per event delivered; it kills itself first (a failed delivery) while $BROKEN exists.
SCRIPT = """\
if [ -n "$BROKEN" ] && [ -e "$BROKEN" ]; then kill -KILL $$; fi
echo "$1 $KEA_QUERY4_HWADDR ${KEA_FAKE_ALLOCATION:--}" >> "$LEDGER"
"""


def status(kea, index=0):
    return runscript_status(kea.channel)[index]


def status_reaches(kea, predicate, what):
    return wait_until(lambda: (lambda s: s if predicate(s) else None)(status(kea)), timeout=30,
                      what=what)


def read_ledger(path):
    try:
        with open(path) as f:
            return [tuple(line.split()) for line in f.read().splitlines()]
    except FileNotFoundError:
        return []


def start(lab, hook_so, **script):
    """Kea with SCRIPT (index 0, "wait": false) and a quick script Kea waits for (index 1)."""
    ledger = os.path.join(lab.workdir, "ledger")
    path = lab.script("consumer.sh", SCRIPT)
    waited = lab.script("waited.sh", "exit 0")
    entry = {"script": path, "wait": False, "hooks": ["lease4_select", "leases4_committed"],
             "max-concurrency": 2, "queue-limit": 4, "env": {"LEDGER": ledger}}
    entry.update(script)
    parameters = {"spool-dir": lab.workdir, "scripts": [
        entry, {"script": waited, "wait": True, "hooks": ["leases4_committed"]}]}
    kea = lab.start_kea(lab.config4(log_debuglevel=0, hooks=[hook(hook_so, **parameters)]))
    return kea, path, ledger


def test_pause_spools_events_and_resume_delivers_them_in_order(lab, hook_so):
    kea, path, ledger = start(lab, hook_so)
    assert status(kea)["paused"] is False

    answer = ok(kea.channel, "runscript-pause", {"script": path})
    assert answer["arguments"] == {"index": 0, "script": path, "paused": True}, answer
    assert "paused" in answer["text"], answer
    again = ok(kea.channel, "runscript-pause", {"script": 0})
    assert "already" in again["text"], again

    acks = lab.dhcp4_in_parallel(MACS, Dhcp4Client.dora, clients=4)
    assert len(acks) == CLIENTS
    total = CLIENTS * len(EVENTS_PER_CLIENT)

    # Every event is in the spool, not in memory, and none was delivered.
    held = status_reaches(kea, lambda s: s["events-queued"] == total, "every event queued")
    assert held["paused"] is True
    assert held["spool-depth"] == total, held
    assert held["queue-depth"] == 0 and held["delivered"] == 0, held
    stats = wait_until(lambda: (lambda s: s if s.get("runscript[0].spool-depth") == total else None)(runscript_statistics(kea.channel)),
                       timeout=30, what="spool-depth in statistic-get-all")
    assert stats["runscript[0].delivered"] == 0
    assert read_ledger(ledger) == []

    answer = ok(kea.channel, "runscript-resume", {"script": 0})
    assert answer["arguments"]["paused"] is False, answer
    done = status_reaches(kea, lambda s: s["delivered"] == total, "every event delivered")
    assert done["paused"] is False and done["spool-depth"] == 0 and done["queue-depth"] == 0, done
    assert "not paused" in ok(kea.channel, "runscript-resume", {"script": path})["text"]

    # Once each, and each client's in the order they happened.
    lines = read_ledger(ledger)
    assert len(lines) == total, lines
    assert_per_client_order(lines, MACS)


def assert_per_client_order(lines, macs):
    per_client = defaultdict(list)
    for hook_point, mac, fake in lines:
        per_client[mac].append((hook_point, fake))
    assert sorted(per_client) == macs
    for mac, seen in per_client.items():
        assert seen == EVENTS_PER_CLIENT, (mac, seen)


def test_a_reconfiguration_starts_unpaused_and_delivers_what_waited(lab, hook_so):
    """Nothing survives a pause but the events: the library loaded again by a reconfiguration
    is not paused, and delivers what waited in the spool, in order, once each."""
    kea, path, ledger = start(lab, hook_so)
    ok(kea.channel, "runscript-pause", {"script": path})
    macs = MACS[:4]
    lab.dhcp4_in_parallel(macs, Dhcp4Client.dora, clients=4)
    total = len(macs) * len(EVENTS_PER_CLIENT)
    status_reaches(kea, lambda s: s["spool-depth"] == total, "every event in the spool")
    assert read_ledger(ledger) == []

    kea.reload()
    done = status_reaches(kea, lambda s: s["delivered"] == total, "the spool delivered after the reload")
    assert done["paused"] is False, done
    lines = read_ledger(ledger)
    assert len(lines) == total, lines
    assert_per_client_order(lines, macs)


def test_dead_letters_list_retry_and_drop(lab, hook_so):
    broken = os.path.join(lab.workdir, "broken")
    open(broken, "w").close()
    kea, path, ledger = start(lab, hook_so, hooks=["leases4_committed"], **{"max-attempts": 2},
                              env={"LEDGER": os.path.join(lab.workdir, "ledger"), "BROKEN": broken})
    listed = ok(kea.channel, "runscript-dead-letters", {"script": 0})
    assert listed["arguments"]["total"] == 0 and listed["arguments"]["dead-letters"] == [], listed

    first = MACS[:3]
    lab.dhcp4_in_parallel(first, Dhcp4Client.dora, clients=3)
    status_reaches(kea, lambda s: s["dead-lettered"] == len(first), "every event set aside")

    listed = ok(kea.channel, "runscript-dead-letters", {"script": path, "action": "list"})
    args = listed["arguments"]
    assert args["index"] == 0 and args["script"] == path
    assert args["total"] == len(first), listed
    entries = args["dead-letters"]
    assert [e["hook"] for e in entries] == ["leases4_committed"] * len(first), entries
    assert all(e["attempts"] == 2 for e in entries), entries
    assert sorted(e["variables"]["KEA_QUERY4_HWADDR"] for e in entries) == first, entries
    assert all("KEA_LEASES4_AT0_ADDRESS" in e["variables"] for e in entries), entries
    assert len({e["seq"] for e in entries}) == len(first)
    assert read_ledger(ledger) == []

    # Mended: a retry queues them again, and they are delivered.
    os.unlink(broken)
    retried = ok(kea.channel, "runscript-dead-letters", {"script": 0, "action": "retry"})
    assert retried["arguments"]["retried"] == len(first) and retried["arguments"]["left"] == 0, retried
    status_reaches(kea, lambda s: s["delivered"] == len(first), "the retried events delivered")
    assert sorted(mac for _, mac, _ in read_ledger(ledger)) == first
    assert ok(kea.channel, "runscript-dead-letters", {"script": 0})["arguments"]["total"] == 0

    # Broken again: new dead letters, dropped this time.
    open(broken, "w").close()
    second = MACS[3:5]
    lab.dhcp4_in_parallel(second, Dhcp4Client.dora, clients=2)
    status_reaches(kea, lambda s: s["dead-lettered"] == len(first) + len(second), "the new ones set aside")
    dropped = ok(kea.channel, "runscript-dead-letters", {"script": 0, "action": "drop"})
    assert dropped["arguments"]["dropped"] == len(second), dropped
    assert ok(kea.channel, "runscript-dead-letters", {"script": 0})["arguments"]["total"] == 0
    os.unlink(broken)
    retried = ok(kea.channel, "runscript-dead-letters", {"script": 0, "action": "retry"})
    assert retried["arguments"]["retried"] == 0, retried
    assert len(read_ledger(ledger)) == len(first)


def test_bad_commands_get_an_error_that_names_the_problem(lab, hook_so):
    kea, path, _ = start(lab, hook_so)
    waited = status(kea, 1)["script"]
    cases = [
        ("runscript-pause", None, "arguments"),
        ("runscript-pause", {}, "'script' is needed"),
        ("runscript-pause", {"script": True}, "index (an integer) or a path"),
        ("runscript-pause", {"script": 2.5}, "index (an integer) or a path"),
        ("runscript-pause", {"script": 7}, "no script 7"),
        ("runscript-pause", {"script": -1}, "no script -1"),
        ("runscript-pause", {"script": "/no/such/script"}, "/no/such/script"),
        ("runscript-pause", {"script": 1}, "Kea waits for"),
        ("runscript-resume", {"script": waited}, "Kea waits for"),
        ("runscript-resume", {"script": 0, "bogus": 1}, "'bogus'"),
        ("runscript-dead-letters", {"script": 1}, "Kea waits for"),
        ("runscript-dead-letters", {"script": 0, "action": "burn"}, "'burn'"),
        ("runscript-dead-letters", {"script": 0, "action": 3}, "'action'"),
        ("runscript-dead-letters", {"action": "list"}, "'script' is needed"),
        ("runscript-dead-letters", ["script", 0], "arguments"),  # Kea's own refusal, or ours
    ]
    for name, arguments, words in cases:
        answer = kea.channel.answer(name, arguments)
        assert answer["result"] == 1, (name, arguments, answer)
        if isinstance(arguments, list):
            continue
        assert words in answer["text"], (name, arguments, answer)
        assert answer["text"].startswith(name + ": "), (name, arguments, answer)
    # None of that changed anything, nor stopped Kea.
    assert status(kea)["paused"] is False
    assert kea.is_running()
