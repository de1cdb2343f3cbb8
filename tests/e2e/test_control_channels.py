"""The library through every command channel an operator has to a real kea-dhcp4: its unix
control socket, kea-ctrl-agent's HTTP API (Debian's agent, up to Kea 3.0) and, from Kea 3.0,
Kea's own HTTP control socket. A channel this Kea lacks is skipped, saying why.

First the commands and the statistics answer alike through each, errors included. Then the
load run an operator watches through HTTP: a slow consumer, which takes one token per event
(the test hands them out, so that the depths it asserts are exact, whatever the machine's
speed), under perfdhcp load; statistic-get-all shows the queue and spool depths rise and fall;
runscript-pause sends events to the spool and runscript-resume delivers them in order; dead
letters are listed and retried. Every wait is a generous deadline (lab.wait_until); no check
asserts a time.
"""

import os

import pytest
from lab import WaitTimeout, agent, hook, wait_until
from lab.control import ok, runscript_statistics, runscript_status, with_http_socket
from lab.dhcp4 import Dhcp4Client
from lab.kea import release

QUEUE_LIMIT = 8

# One token per delivery, taken before the work, unless $OPEN exists; killed (a failed delivery)
# while $BROKEN exists. Each delivery appends the client's MAC to $LEDGER.
CONSUMER = """\
[ -e "$BROKEN" ] && kill -KILL $$
until [ -e "$OPEN" ] || rm "$TOKENS/$(ls "$TOKENS" | head -n 1)" 2>/dev/null; do /bin/sleep 0.05; done
echo "$KEA_QUERY4_HWADDR" >> "$LEDGER"
"""

COMMANDS = ["runscript-status", "runscript-pause", "runscript-resume", "runscript-dead-letters"]


class Consumer:
    """The slow consumer's files: tokens handed out, the open gate, the broken flag, the ledger."""

    def __init__(self, lab):
        self.dir = lab.workdir
        self.tokens = os.path.join(self.dir, "tokens")
        os.mkdir(self.tokens)
        self.handed_out = 0
        self.env = {"TOKENS": self.tokens, "LEDGER": self.path("ledger"), "OPEN": self.path("open"),
                    "BROKEN": self.path("broken")}
        self.script = lab.script("consumer.sh", CONSUMER)

    def path(self, name):
        return os.path.join(self.dir, name)

    def hand_out(self, count):
        for _ in range(count):
            self.handed_out += 1
            open(os.path.join(self.tokens, f"{self.handed_out:06d}"), "w").close()

    def flag(self, name, present):
        if present:
            open(self.env[name], "w").close()
        elif os.path.exists(self.env[name]):
            os.unlink(self.env[name])

    def ledger(self):
        try:
            with open(self.env["LEDGER"]) as f:
                return f.read().split()
        except FileNotFoundError:
            return []


def start(lab, hook_so, kind, consumer, multi_threading=False):
    """Kea with the consumer (index 0, Kea does not wait for it) and a quick script Kea waits for
    (index 1); the channel of `kind` to it, or a skip when this Kea has none."""
    if kind == "http" and release() < (3, 0):
        pytest.skip(f"Kea {'.'.join(map(str, release()))} has no HTTP control socket of its own (3.0+)")
    if kind == "agent" and not agent.available():
        pytest.skip(f"no {agent.AGENT_BIN} with this Kea")
    waited = lab.script("waited.sh", "exit 0")
    parameters = {"spool-dir": lab.workdir, "scripts": [
        {"script": consumer.script, "wait": False, "hooks": ["leases4_committed"], "max-concurrency": 1,
         "queue-limit": QUEUE_LIMIT, "max-attempts": 2, "timeout-ms": 600000, "env": consumer.env},
        {"script": waited, "wait": True, "hooks": ["leases4_committed"]},
    ]}
    cfg = lab.config4(log_debuglevel=0, multi_threading=multi_threading, hooks=[hook(hook_so, **parameters)])
    if release() >= (3, 0):
        with_http_socket(cfg)
    kea = lab.start_kea(cfg)
    if kind == "unix":
        return kea, kea.channel
    if kind == "http":
        return kea, kea.http_channel
    return kea, lab.start_agent(kea).channel()


@pytest.mark.parametrize("kind", ["unix", "agent", "http"])
def test_commands_and_statistics_answer_alike_through_each_channel(lab, hook_so, kind):
    consumer = Consumer(lab)
    consumer.flag("OPEN", True)
    kea, channel = start(lab, hook_so, kind, consumer)

    listed = ok(channel, "list-commands")["arguments"]
    assert set(COMMANDS) <= set(listed), listed

    scripts = runscript_status(channel)
    assert [(s["index"], s["script"], s["wait"]) for s in scripts] == [
        (0, consumer.script, False), (1, os.path.join(lab.workdir, "waited.sh"), True)], scripts
    assert scripts[0]["paused"] is False and scripts[0]["queue-depth"] == 0

    paused = ok(channel, "runscript-pause", {"script": 0})
    assert paused["arguments"] == {"index": 0, "script": consumer.script, "paused": True}, paused
    assert runscript_status(channel)[0]["paused"] is True
    assert ok(channel, "runscript-resume", {"script": consumer.script})["arguments"]["paused"] is False
    listed = ok(channel, "runscript-dead-letters", {"script": 0, "action": "list"})["arguments"]
    assert listed["total"] == 0 and listed["dead-letters"] == [], listed

    # One client: its commit counted in Kea's statistics, as Kea's own are, through this channel.
    lab.dhcp4().dora("02:5d:00:00:00:01")
    wait_until(lambda: runscript_statistics(channel).get("runscript[0].delivered") == 1, timeout=30,
               what="runscript[0].delivered = 1 in statistic-get-all")
    one = ok(channel, "statistic-get", {"name": "runscript[1].runs-started"})["arguments"]
    assert one["runscript[1].runs-started"][0][0] == 1, one
    assert consumer.ledger() == ["02:5d:00:00:00:01"]

    # Errors are Kea's: result 1 and a text that names the problem; an unknown command 2.
    for command, arguments, words in [
            ("runscript-pause", {"script": 7}, "no script 7"),
            ("runscript-status", {"bogus": 1}, "'bogus'"),
            ("runscript-dead-letters", {"script": 1}, "Kea waits for")]:
        answer = channel.answer(command, arguments)
        assert answer["result"] == 1, (command, answer)
        assert answer["text"].startswith(command + ": ") and words in answer["text"], (command, answer)
    assert channel.answer("runscript-bogus")["result"] == 2
    assert kea.is_running()


def depths(stats):
    return stats["runscript[0].queue-depth"], stats["runscript[0].spool-depth"]


def settled(channel, **expected):
    """The library's statistics and Kea's pkt4-ack-sent, once each statistic named in `expected`
    (runscript[0].<name>, '-' as '_') has its value (or the value of a function of them all):
    nothing moves then, the consumer's one run in flight, if any, waiting for a token, so the
    depths are exact. A timeout says what the statistics were last."""
    last = {}

    def check():
        stats = runscript_statistics(channel)
        acks = ok(channel, "statistic-get", {"name": "pkt4-ack-sent"})["arguments"]["pkt4-ack-sent"]
        stats["pkt4-ack-sent"] = acks[0][0] if acks else 0
        last.update(stats)
        if not accounted(stats):
            return None
        for name, value in expected.items():
            key = f"runscript[0].{name.replace('_', '-')}"
            if stats.get(key) != (value(stats) if callable(value) else value):
                return None
        return stats
    try:
        return wait_until(check, timeout=30, what=f"statistics {expected}")
    except WaitTimeout as e:
        raise AssertionError(f"{e}; last seen: {last}") from None


def in_flight(stats):
    return stats["runscript[0].runs-started"] - stats["runscript[0].delivered"] - stats["runscript[0].failed"]


def accounted(stats):
    """Every event queued is delivered, set aside or waits: none is lost or counted twice."""
    s = {name.split(".", 1)[1]: value for name, value in stats.items() if name.startswith("runscript[0].")}
    return s["events-queued"] == s["delivered"] + s["dead-lettered"] + s["queue-depth"] + s["spool-depth"]


@pytest.mark.time_limit(300)
@pytest.mark.parametrize("kind", ["agent", "http"])
def test_an_operator_watches_and_steers_a_load_run_over_http(lab, hook_so, kind):
    consumer = Consumer(lab)
    kea, channel = start(lab, hook_so, kind, consumer, multi_threading=True)
    seen = []  # (queue depth, spool depth), each time the run settles

    def every_ack_queued(stats):
        return stats["pkt4-ack-sent"]

    # A first small load: all in memory (the one the consumer holds until its token too).
    result = lab.perfdhcp(exchanges=5, rate=50)
    assert result.received("REQUEST-ACK") > 0, result.output
    stats = settled(channel, events_queued=every_ack_queued, runs_started=1, delivered=0)
    first = stats["pkt4-ack-sent"]
    assert first < QUEUE_LIMIT, result.output
    seen.append(depths(stats))

    # Load past the queue's limit: memory full, the rest in the spool.
    result = lab.perfdhcp(exchanges=60, rate=100)
    stats = settled(channel, events_queued=every_ack_queued, runs_started=1, delivered=0)
    acks = stats["pkt4-ack-sent"]
    assert acks > QUEUE_LIMIT + 21, (acks, result.output)
    assert depths(stats) == (QUEUE_LIMIT, acks - QUEUE_LIMIT), stats
    assert stats["runscript[0].spool-bytes"] > 0 and stats["runscript[0].oldest-age"] >= 0
    seen.append(depths(stats))

    # The consumer catches up, 20 events, then all but 3: the spool drains into memory first.
    consumer.hand_out(20)
    stats = settled(channel, delivered=20, runs_started=21)
    seen.append(depths(stats))
    consumer.hand_out(acks - 3 - 20)
    stats = settled(channel, delivered=acks - 3, runs_started=acks - 2)
    seen.append(depths(stats))
    consumer.flag("OPEN", True)
    stats = settled(channel, delivered=acks, events_queued=acks)
    assert in_flight(stats) == 0
    seen.append(depths(stats))
    spooled = acks - QUEUE_LIMIT
    assert seen == [(first, 0), (QUEUE_LIMIT, spooled), (QUEUE_LIMIT, spooled - 20), (3, 0), (0, 0)], seen
    assert len(consumer.ledger()) == acks

    # Paused: new events go to the spool only; resumed: delivered in the order they came.
    assert ok(channel, "runscript-pause", {"script": consumer.script})["arguments"]["paused"] is True
    macs = [f"02:5d:00:00:01:{i:02x}" for i in range(6)]
    lab.dhcp4_in_parallel(macs, Dhcp4Client.dora, clients=1)  # one after the other: a known order
    stats = settled(channel, events_queued=acks + len(macs), spool_depth=len(macs), delivered=acks)
    assert depths(stats) == (0, len(macs)), stats
    # The backlog ages while it waits on disk, none of it in memory.
    wait_until(lambda: runscript_statistics(channel)["runscript[0].oldest-age"] >= 1, timeout=30,
               what="the paused backlog's oldest-age to reach 1 s")
    assert len(consumer.ledger()) == acks
    ok(channel, "runscript-resume", {"script": 0})
    stats = settled(channel, delivered=acks + len(macs), queue_depth=0, spool_depth=0)
    assert consumer.ledger()[acks:] == macs

    # Broken: each event fails its two attempts and is set aside; listed, then retried once mended.
    consumer.flag("BROKEN", True)
    broken = [f"02:5d:00:00:02:{i:02x}" for i in range(3)]
    lab.dhcp4_in_parallel(broken, Dhcp4Client.dora, clients=3)
    stats = settled(channel, dead_lettered=len(broken), queue_depth=0, spool_depth=0)
    assert stats["runscript[0].failed"] == 2 * len(broken), stats
    listed = ok(channel, "runscript-dead-letters", {"script": 0, "action": "list"})["arguments"]
    assert listed["total"] == len(broken), listed
    assert sorted(e["variables"]["KEA_QUERY4_HWADDR"] for e in listed["dead-letters"]) == broken
    assert all(e["attempts"] == 2 for e in listed["dead-letters"]), listed
    consumer.flag("BROKEN", False)
    retried = ok(channel, "runscript-dead-letters", {"script": 0, "action": "retry"})["arguments"]
    assert retried["retried"] == len(broken) and retried["left"] == 0, retried
    total = acks + len(macs) + len(broken)
    # A retried dead letter is queued again, so counted again.
    stats = settled(channel, delivered=total, events_queued=total + len(broken), queue_depth=0, spool_depth=0)
    assert sorted(consumer.ledger()[acks + len(macs):]) == broken
    assert ok(channel, "runscript-dead-letters", {"script": 0})["arguments"]["total"] == 0
    # Every ACK Kea sent was one event, delivered once; Kea waited for the other script each time.
    assert stats["pkt4-ack-sent"] == total
    assert stats["runscript[1].runs-started"] == total and stats["runscript[0].dropped"] == 0
    assert kea.is_running()
