"""Delivery under faults, on a real kea-dhcp4: scripts Kea does not wait for ("wait": false), run
per event (exec) or as a worker, with the write-ahead spool between Kea and them.

Each test makes one fault last (a hung script, a worker that never answers or whose answers
stay in its buffer, a poison event, a backlog at a stop, kill -9 of the worker or of Kea, a full
disk, reconfigurations one after another) and asserts the same three things:

  * Kea keeps answering new clients while the fault lasts: a fixed set of clients with known
    MACs, every one of them gets its ACK (or perfdhcp's fixed load, every exchange answered);
  * Kea stops on SIGTERM within STOP_LIMIT seconds (from the signal to its exit; the lab's
    slack on top, for this machine's slowness only);
  * every event Kea accepted reaches the script exactly once, in each client's order (at least
    once after kill -9): the scripts write one line per event they completed to a ledger file,
    and the ledger is compared with the clients that were served. An event set aside as a dead
    letter is read back from the spool's dead-letters/ (lab/spool.py).

Events are lease4_select's unless a test says otherwise: a client's DORA makes two, the
DISCOVER's (KEA_FAKE_ALLOCATION=1) and then the REQUEST's (0), so each client has an order of
its own. Every amount of work is fixed; no rate or speed is asserted anywhere.
"""

import os
import re
import signal
import subprocess
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass

import pytest
from lab import hook, mounts, slack, wait_until
from lab.dhcp4 import Dhcp4Client
from lab.netns import SERVER_IFACE
from lab.spool import dead_letter_dir, events, script_dir, segments

# The bound: SIGTERM to exit, whatever the scripts are doing.
STOP_LIMIT = 10

# Subnet 1 as a /16 on veth-s, so that hundreds of DORAs from new clients never run out of
# addresses (the lab's pool has 91); the lab's relayed subnet 2 stays, for perfdhcp.
SUBNET1 = {"id": 1, "subnet": "192.0.0.0/16", "interface": SERVER_IFACE,
           "pools": [{"pool": "192.0.16.1 - 192.0.255.254"}]}

# Run per event. Its parameters come in its fixed environment ("env"): it waits while the file
# $FLAG exists (a DNS server that does not answer), sleeps $DELAY seconds (and 0.5 s more while
# the file $SLOW exists), then writes its line to $LEDGER: an event is in the ledger once its
# run has done its work, so a run killed before that is not.
EXEC_SCRIPT = """\
while [ -n "$FLAG" ] && [ -e "$FLAG" ]; do /bin/sleep 0.05; done
if [ -n "$DELAY" ]; then /bin/sleep "$DELAY"; fi
if [ -n "$SLOW" ] && [ -e "$SLOW" ]; then /bin/sleep 0.5; fi
echo "$$ $1 ${KEA_QUERY4_HWADDR:--} ${KEA_FAKE_ALLOCATION:--} -" >> "$LEDGER"
"""

# A worker ("format": "env"), with the same parameters, and: $SEEN gets a line for every event
# read (so a test counts attempts); $POISON: it exits, unanswered, on the event of the client
# of that name (option 12, exported with "options": [12]); $BUFFERED=1: it answers every event
# but never flushes its stdout, and ends without flushing it (os._exit) when its stdin closes,
# so that no answer of it ever reaches Kea.
WORKER = """\
import os
import sys
import time

LEDGER = os.environ["LEDGER"]
SEEN = os.environ.get("SEEN")
FLAG = os.environ.get("FLAG")
DELAY = float(os.environ.get("DELAY") or 0)
POISON = os.environ.get("POISON")
BUFFERED = os.environ.get("BUFFERED") == "1"


def events(stream):
    event = {}
    for line in stream:
        line = line.rstrip(b"\\n")
        if not line:
            yield event
            event = {}
        elif "hook" not in event:
            event["hook"] = line.decode()
        else:
            name, _, value = line.partition(b"=")
            event[name.decode()] = value.decode(errors="replace")


def client_name(event):
    option12 = event.get("KEA_QUERY4_OPTION12", "")
    return bytes.fromhex(option12[2:]).decode(errors="replace") if option12[:2] in ("0x", "0X") else "-"


def note(path, event):
    line = (f"{os.getpid()} {event['hook']} {event.get('KEA_QUERY4_HWADDR') or '-'} "
            f"{event.get('KEA_FAKE_ALLOCATION') or '-'} {client_name(event)}\\n")
    with open(path, "a") as f:
        f.write(line)


for event in events(sys.stdin.buffer):
    if SEEN:
        note(SEEN, event)
    if POISON and client_name(event) == POISON:
        sys.exit(3)
    while FLAG and os.path.exists(FLAG):
        time.sleep(0.05)
    if DELAY:
        time.sleep(DELAY)
    if not BUFFERED:
        note(LEDGER, event)
    sys.stdout.write("0\\n")
    if not BUFFERED:
        sys.stdout.flush()
if BUFFERED:
    os._exit(0)
"""


@dataclass(frozen=True)
class Entry:
    """One line of a ledger (or of a worker's SEEN file)."""
    pid: int
    hook: str
    mac: str
    fake: str   # KEA_FAKE_ALLOCATION, "-" where there is none
    name: str   # the client's option 12, "-" where there is none


def read_ledger(path):
    """The whole lines of `path`, in the order they were written ([] before the first)."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return []
    lines = text.split("\n")[:-1]  # what follows the last newline is a line still being written
    return [Entry(int(pid), hook, mac, fake, name) for pid, hook, mac, fake, name in (l.split() for l in lines)]


def macs(count, group):
    """`count` MACs of their own for one group of clients of a test."""
    return [f"02:{group:02x}:00:00:{i >> 8:02x}:{i & 0xff:02x}" for i in range(count)]


def serve(lab, clients, at_a_time=8):
    """Every client of `clients` does a DORA (several at a time) and must get its ACK."""
    acks = lab.dhcp4_in_parallel(clients, Dhcp4Client.dora, clients=at_a_time)  # dora() asserts the ACK
    assert len(acks) == len(clients)
    return acks


def config(lab, library, **parameters):
    """kea-dhcp4 (INFO log: thousands of events) with the big subnet 1 and our hook."""
    cfg = lab.config4(log_debuglevel=0, hooks=[hook(library, **parameters)])
    cfg["Dhcp4"]["subnet4"][0] = SUBNET1
    return cfg


def exec_script(lab, name="deliver.sh"):
    return lab.script(name, EXEC_SCRIPT)


def worker_script(lab, name="worker.py"):
    return lab.script(name, WORKER, interpreter="/usr/bin/python3")


def pids_of(path):
    """Pids of the processes whose command line holds `path` (pgrep -f)."""
    found = subprocess.run(["pgrep", "-f", path.replace(".", "\\.")], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split() if int(pid) != os.getpid()]


def stop_in_time(kea):
    """SIGTERM; Kea must be gone within STOP_LIMIT s (+ the lab's slack), with status 0."""
    elapsed = kea.stop_timed()
    assert elapsed <= STOP_LIMIT + slack(), f"Kea took {elapsed:.1f} s to stop on SIGTERM"
    assert kea.proc.returncode == 0, f"Kea exited with {kea.proc.returncode}:\n{kea.log()[-3000:]}"
    return elapsed


def left_for_next_start(kea, script):
    """n of 'RUNSCRIPT_SPOOL <script>: <n> events not yet delivered stay in the spool...' (0
    if no such line: nothing was left)."""
    lines = kea.log_lines(rf"RUNSCRIPT_SPOOL {re.escape(script)}: \d+ events? not yet delivered stay in the spool")
    assert len(lines) <= 1, lines
    return int(re.search(r": (\d+) events? not yet", lines[0]).group(1)) if lines else 0


def delivered_first(kea, script):
    """n of 'RUNSCRIPT_SPOOL <script>: <n> events left in the spool ... are delivered first'."""
    (line,) = kea.wait_log(rf"RUNSCRIPT_SPOOL {re.escape(script)}: \d+ events? left in the spool .* "
                           rf"by the last run (are|is) delivered first")
    return int(re.search(r": (\d+) events? left", line).group(1))


def by_client(entries):
    found = defaultdict(list)
    for entry in entries:
        found[entry.mac].append(entry.fake)
    return found


def assert_once_in_order(entries, clients):
    """Each client's two events exactly once, the DISCOVER's before the REQUEST's, and no
    event of anybody else."""
    found = by_client(entries)
    wrong = {mac: found.get(mac, []) for mac in clients if found.get(mac, []) != ["1", "0"]}
    strangers = sorted(set(found) - set(clients))
    assert not wrong and not strangers, (
        f"{len(wrong)} of {len(clients)} clients' events not delivered exactly once in order "
        f"(expected ['1', '0']), e.g. {dict(list(wrong.items())[:5])}; events of unknown clients: {strangers[:5]}")


def assert_at_least_once_in_order(entries, clients):
    """Each client's two events at least once, never a later one before an earlier one: in the
    order of their first deliveries and in the order of their last ones."""
    found = by_client(entries)
    wrong = {}
    for mac in clients:
        got = found.get(mac, [])
        first = list(dict.fromkeys(got))
        last = list(dict.fromkeys(reversed(got)))[::-1]
        if first != ["1", "0"] or last != ["1", "0"]:
            wrong[mac] = got
    assert not wrong, (f"{len(wrong)} of {len(clients)} clients' events missing or out of order, "
                       f"e.g. {dict(list(wrong.items())[:5])}")


# --- 1, 2: a script that hangs, a worker that never answers ------------------------------------

@pytest.mark.parametrize("mode", ["exec", "worker"])
@pytest.mark.time_limit(120)
def test_a_hung_consumer_neither_holds_kea_nor_loses_an_event(lab, hook_so, mode):
    """The script (or the worker) waits for a flag file to go, as nsupdate waits for a DNS
    server that does not answer: everything it is given hangs. 60 new clients are all served;
    the 20 events of the memory queue are soon full and the rest go to the spool; SIGTERM stops
    Kea in time, killing what hangs, and every event stays in the spool. With the flag gone and
    Kea started again, each event is delivered exactly once, in each client's order."""
    flag = os.path.join(lab.workdir, "dns-server-down")
    open(flag, "w").close()
    ledger = os.path.join(lab.workdir, "ledger")
    script = exec_script(lab) if mode == "exec" else worker_script(lab)
    entry = {"script": script, "wait": False, "hooks": ["lease4_select"], "mode": mode,
             "queue-limit": 20, "spool-dir": lab.workdir, "env": {"LEDGER": ledger, "FLAG": flag}}
    kea = lab.start_kea(config(lab, hook_so, **entry))
    clients = macs(60, 1)
    serve(lab, clients)
    kea.wait_log(rf"RUNSCRIPT_QUEUE_FULL {re.escape(script)} \(lease4_select\): 20 events wait in memory; "
                 rf"the next ones wait in the spool {re.escape(lab.workdir)}")
    assert not read_ledger(ledger), "delivered past the flag: the test proves nothing"
    assert pids_of(script), f"no {mode} running: nothing hangs"

    stop_in_time(kea)
    wait_until(lambda: not pids_of(script), timeout=5, what=f"the hung {mode} to be killed")
    assert left_for_next_start(kea, script) == 2 * len(clients)
    assert segments(script_dir(lab.workdir, script)), "the spool's segments are not where the contract puts them"
    assert not read_ledger(ledger)

    os.unlink(flag)
    kea = lab.start_kea(kea.config)
    assert delivered_first(kea, script) == 2 * len(clients)
    wait_until(lambda: len(read_ledger(ledger)) >= 2 * len(clients), timeout=60,
               what=f"{2 * len(clients)} events in {ledger}")
    stop_in_time(kea)
    assert_once_in_order(read_ledger(ledger), clients)
    assert left_for_next_start(kea, script) == 0


def test_a_worker_that_never_flushes_its_answers_loses_nothing(lab, hook_so):
    """A worker that answers into its stdout buffer and never flushes it (mawk or python into a
    pipe): no answer ever arrives, each batch times out (timeout-ms 500) and the worker is
    restarted. Kea serves 10 clients, then 10 more once events are being set aside, and stops in
    time. Nothing is lost and nothing delivered twice: each event is a dead letter (given to the
    worker 3 times, never a 4th) or, once a worker that flushes takes over, delivered exactly
    once."""
    ledger, seen = (os.path.join(lab.workdir, name) for name in ("ledger", "seen"))
    script = worker_script(lab)
    entry = {"script": script, "wait": False, "hooks": ["lease4_select"], "mode": "worker", "timeout-ms": 500,
             "spool-dir": lab.workdir, "env": {"LEDGER": ledger, "SEEN": seen, "BUFFERED": "1"}}
    kea = lab.start_kea(config(lab, hook_so, **entry))
    before, during = macs(10, 1), macs(10, 2)
    serve(lab, before)
    kea.wait_log(rf"RUNSCRIPT_TIMEOUT {re.escape(script)}", timeout=20)
    kea.wait_log(rf"RUNSCRIPT_DEAD_LETTER {re.escape(script)} \(lease4_select\): delivery failed 3 times",
                 timeout=30)
    serve(lab, during)
    stop_in_time(kea)
    wait_until(lambda: not pids_of(script), timeout=5, what="the worker to be gone with Kea")
    assert not read_ledger(ledger), "a buffered answer came through: the test proves nothing"

    dead = events(dead_letter_dir(lab.workdir, script))
    assert dead, "no dead letter in the spool's dead-letters/"
    assert all(event.attempts == 3 for event in dead), [(e.env.get("KEA_QUERY4_HWADDR"), e.attempts) for e in dead]
    dead_ids = Counter((e.env["KEA_QUERY4_HWADDR"], e.env["KEA_FAKE_ALLOCATION"]) for e in dead)
    last = kea.log_lines(r"RUNSCRIPT_DEAD_LETTER ")[-1]
    assert re.search(rf"set aside in {re.escape(script_dir(lab.workdir, script))}/dead-letters; {len(dead)} so far",
                     last), (last, len(dead))
    # A batch that times out is the failure of the event the worker is stuck on, its first:
    # those behind it are given again without a failure counted, so only dead letters have a
    # number of deliveries to check: 3, never a 4th.
    given = Counter((e.mac, e.fake) for e in read_ledger(seen))
    assert {event: given[event] for event in dead_ids} == {event: 3 for event in dead_ids}

    # The same script path (so the same spool), now a worker that flushes: it gets the rest.
    kea.config["Dhcp4"]["hooks-libraries"][0]["parameters"]["env"] = {"LEDGER": ledger}
    kea = lab.start_kea(kea.config)
    accepted = {(mac, fake) for mac in before + during for fake in "10"}
    wait_until(lambda: len(read_ledger(ledger)) + len(dead) >= len(accepted), timeout=60,
               what="every event delivered or set aside")
    stop_in_time(kea)
    delivered = read_ledger(ledger)
    delivered_ids = Counter((e.mac, e.fake) for e in delivered)
    assert max(dead_ids.values()) == 1 and max(delivered_ids.values(), default=1) == 1, "an event twice"
    assert not set(dead_ids) & set(delivered_ids), "an event both delivered and set aside"
    assert set(dead_ids) | set(delivered_ids) == accepted, f"lost: {accepted - set(dead_ids) - set(delivered_ids)}"
    for mac, got in by_client(delivered).items():
        assert got in (["1", "0"], ["1"], ["0"]), (mac, got)


# --- 3: a poison event -------------------------------------------------------------------------

def test_a_poison_event_is_set_aside_after_3_attempts_and_the_rest_goes_on(lab, hook_so):
    """The worker exits whenever it reads the event of the client called "poison". That event
    is given to it 3 times in all (3 workers), then set aside in dead-letters/ and logged once;
    the 10 events behind it reach the worker, in order, exactly once; Kea answers everybody
    meanwhile; after a restart of Kea the poison is not delivered a 4th time."""
    ledger, seen = (os.path.join(lab.workdir, name) for name in ("ledger", "seen"))
    script = worker_script(lab)
    entry = {"script": script, "wait": False, "hooks": ["pkt4_receive"], "mode": "worker", "options": [12],
             "spool-dir": lab.workdir, "env": {"LEDGER": ledger, "SEEN": seen, "POISON": "poison"}}
    kea = lab.start_kea(config(lab, hook_so, **entry))
    client = lab.dhcp4()
    names = [f"before-{i}" for i in range(2)] + ["poison"] + [f"after-{i}" for i in range(10)]
    for i, name in enumerate(names):
        offer = client.discover(f"02:00:00:00:03:{i:02x}", hostname=name)
        assert offer is not None and offer.type == "DHCPOFFER", name
        if name == "before-1":  # the worker works: what follows is the poison's doing
            wait_until(lambda: len(read_ledger(ledger)) == 2, timeout=10, what="the first two events")

    (line,) = kea.wait_log(rf"RUNSCRIPT_DEAD_LETTER {re.escape(script)} \(pkt4_receive\): ", timeout=30)
    dir_ = script_dir(lab.workdir, script)
    assert re.search(rf"delivery failed 3 times \(.+\); the event is set aside in {re.escape(dir_)}/dead-letters; "
                     rf"1 so far$", line), line
    wait_until(lambda: len(read_ledger(ledger)) >= len(names) - 1, timeout=20, what="the events behind the poison")
    assert [e.name for e in read_ledger(ledger)] == [name for name in names if name != "poison"]
    tries = [e for e in read_ledger(seen) if e.name == "poison"]
    assert len(tries) == 3 and len({e.pid for e in tries}) == 3, tries
    (dead,) = events(dead_letter_dir(lab.workdir, script))
    assert dead.hook == "pkt4_receive" and dead.env["KEA_QUERY4_HWADDR"] == "02:00:00:00:03:02", dead
    assert bytes.fromhex(dead.env["KEA_QUERY4_OPTION12"][2:]) == b"poison"
    assert len(kea.log_lines("RUNSCRIPT_DEAD_LETTER")) == 1

    # The operator's way back, while Kea runs: look, then replay to a mended script.
    tool = os.path.join(os.path.dirname(str(hook_so)), "kea-runscript-spool")
    dead_dir = dead_letter_dir(lab.workdir, script)
    listed = subprocess.run([tool, "list", dead_dir], capture_output=True, text=True, check=True).stdout
    assert re.fullmatch(r"\d+ pkt4_receive attempts=3 variables=\d+\n", listed), listed
    replayed = os.path.join(lab.workdir, "replayed")
    mended = lab.script("mended.sh", f'echo "$1 $KEA_QUERY4_HWADDR $KEA_QUERY4_OPTION12" >> {replayed}')
    run = subprocess.run([tool, "replay", dead_dir, mended], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 events replayed; 0 left" in run.stdout, run.stdout
    with open(replayed) as f:
        assert f.read() == f"pkt4_receive 02:00:00:00:03:02 0x{b'poison'.hex().upper()}\n"
    assert not os.path.exists(dead_dir) and not os.path.exists(dead_dir + ".replay")
    stop_in_time(kea)

    kea = lab.start_kea(kea.config)
    assert client.discover("02:00:00:00:03:ff", hostname="later").type == "DHCPOFFER"
    wait_until(lambda: len(read_ledger(ledger)) == len(names), timeout=10, what="the event of a new client")
    stop_in_time(kea)
    assert [e.name for e in read_ledger(seen)].count("poison") == 3, "the poison was delivered a 4th time"
    assert not kea.log_lines("RUNSCRIPT_DEAD_LETTER")


# --- 4: a backlog at a stop --------------------------------------------------------------------

@pytest.mark.time_limit(120)
def test_a_backlog_at_a_stop_is_delivered_after_the_next_start_exactly_once(lab, hook_so):
    """A slow script (0.5 s per event while the file `slow` exists) and 300 new clients: 600
    events, most of them still waiting when Kea gets SIGTERM. Kea stops in time and says how
    many stay in the spool; the next Kea, same configuration, says it delivers as many first,
    and in the end each event was delivered exactly once, in each client's order."""
    slow, ledger = (os.path.join(lab.workdir, name) for name in ("slow", "ledger"))
    open(slow, "w").close()
    script = exec_script(lab)
    entry = {"script": script, "wait": False, "hooks": ["lease4_select"], "spool-dir": lab.workdir,
             "env": {"LEDGER": ledger, "SLOW": slow}}
    kea = lab.start_kea(config(lab, hook_so, **entry))
    clients = macs(300, 4)
    serve(lab, clients)
    stop_in_time(kea)
    left = left_for_next_start(kea, script)
    done = len(read_ledger(ledger))
    assert left == 2 * len(clients) - done, (left, done)
    assert left >= 100, f"only {left} events waited at the stop: the test proves little"

    os.unlink(slow)
    kea = lab.start_kea(kea.config)
    assert delivered_first(kea, script) == left
    wait_until(lambda: len(read_ledger(ledger)) >= 2 * len(clients), timeout=60, what="every event")
    assert lab.dhcp4().dora("02:aa:00:00:00:01").type == "DHCPACK"
    wait_until(lambda: len(read_ledger(ledger)) >= 2 * len(clients) + 2, timeout=10, what="a new client's events")
    stop_in_time(kea)
    assert_once_in_order(read_ledger(ledger), clients + ["02:aa:00:00:00:01"])


# --- 5: kill -9 of the worker ------------------------------------------------------------------

@pytest.mark.time_limit(120)
def test_a_worker_killed_mid_batch_loses_nothing(lab, hook_so):
    """A worker taking 20 ms per event, 150 new clients (300 events, far more than it answers
    meanwhile: it always has a batch in hand), and the worker is SIGKILLed 3 times while it works,
    each time after the new one has answered 20 events. Every client is served, every event is
    delivered at least once, never a later one of a client before an earlier one, only the event
    in hand at a kill is delivered again (not those answered before it), and none is set aside:
    the worker never crashed on one event 3 times (each kill finds another event in hand, as the
    one before was answered since)."""
    ledger = os.path.join(lab.workdir, "ledger")
    script = worker_script(lab)
    entry = {"script": script, "wait": False, "hooks": ["lease4_select"], "mode": "worker",
             "spool-dir": lab.workdir, "env": {"LEDGER": ledger, "DELAY": "0.02"}}
    kea = lab.start_kea(config(lab, hook_so, **entry))
    clients = macs(150, 5)
    kills, failures = [], []

    def killer():
        # Each kill once the (new) worker has answered 20 more events: the event it had in hand
        # at the kill before has been answered, so no event fails more than once here.
        try:
            for _ in range(3):
                mark = len(read_ledger(ledger))
                wait_until(lambda: len(read_ledger(ledger)) >= mark + 20 and pids_of(script), timeout=30,
                           what="the worker to answer 20 more events")
                (pid,) = pids_of(script)
                os.kill(pid, signal.SIGKILL)
                kills.append((pid, len(read_ledger(ledger))))
        except BaseException as exc:  # reported by the test
            failures.append(exc)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        serve(lab, clients)
    finally:
        thread.join()
    assert not failures and len(kills) == 3, failures
    assert all(answered < 2 * len(clients) for _, answered in kills), f"killed after the work was done: {kills}"

    wait_until(lambda: {(e.mac, e.fake) for e in read_ledger(ledger)} >= {(m, f) for m in clients for f in "10"},
               timeout=60, what="every event at least once")
    assert len(kea.log_lines(rf"RUNSCRIPT_KILLED_BY_SIGNAL {re.escape(script)} \(worker\): killed by signal 9")) == 3
    stop_in_time(kea)
    delivered = read_ledger(ledger)
    assert_at_least_once_in_order(delivered, clients)
    assert not events(dead_letter_dir(lab.workdir, script)) and not kea.log_lines("RUNSCRIPT_DEAD_LETTER")
    # What a worker answered is not delivered again, only what it had not (README): the worker
    # writes its line, then its answer, so a kill finds at most one event written and not answered.
    again = [(mac, fake, n) for (mac, fake), n in Counter((e.mac, e.fake) for e in delivered).items() if n > 1]
    assert len(again) <= len(kills), f"{len(again)} events delivered again after {len(kills)} kills: {again[:10]}"


# --- 6: kill -9 of Kea -------------------------------------------------------------------------

@pytest.mark.time_limit(120)
def test_after_kill_9_of_kea_every_acked_event_is_delivered_after_the_restart(lab, hook_so):
    """A worker taking 20 ms per event; 50 clients are served, then 250 more start and Kea is
    SIGKILLed once 60 of those have their ACK, while events still wait. Once Kea is started
    again, the events of every client that got its ACK are delivered at least once, in order."""
    ledger = os.path.join(lab.workdir, "ledger")
    script = worker_script(lab)
    entry = {"script": script, "wait": False, "hooks": ["lease4_select"], "mode": "worker",
             "spool-dir": lab.workdir, "env": {"LEDGER": ledger, "DELAY": "0.02"}}
    kea = lab.start_kea(config(lab, hook_so, **entry))
    first = macs(50, 6)
    serve(lab, first)

    acked, killed = {}, threading.Event()

    def clients_of_one_thread(share):
        # After the kill no answer comes: each client waits a timing window, not a deadline.
        with Dhcp4Client(lab.net, timeout=slack()) as client:
            for mac in share:
                if killed.is_set():
                    return
                try:
                    acked[mac] = client.dora(mac)
                except AssertionError:
                    pass  # no answer: Kea is gone

    second = macs(250, 7)
    threads = [threading.Thread(target=clients_of_one_thread, args=(second[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(acked) >= 60, timeout=30, what="60 ACKs of the second group")
        kea.kill()
        killed.set()
        at_kill = (2 * (len(first) + len(acked)), len(read_ledger(ledger)))
    finally:
        killed.set()
        for thread in threads:
            thread.join()
    served = first + [mac for mac in second if mac in acked]
    assert at_kill[1] < at_kill[0], f"every event was delivered before the kill: the test proves nothing {at_kill}"
    wait_until(lambda: not pids_of(script), timeout=10, what="the old worker to end (its stdin closed)")

    kea = lab.start_kea(kea.config)
    assert delivered_first(kea, script) > 0
    wait_until(lambda: {(e.mac, e.fake) for e in read_ledger(ledger)} >= {(m, f) for m in served for f in "10"},
               timeout=60, what="the events of every client that got its ACK")
    assert lab.dhcp4().dora("02:aa:00:00:00:06").type == "DHCPACK"
    stop_in_time(kea)
    assert_at_least_once_in_order(read_ledger(ledger), served)


# --- 7: a full disk ----------------------------------------------------------------------------

@pytest.fixture
def small_disk(lab):
    """A 1 MB tmpfs in the test's work directory (mounted before Kea starts, so that Kea's
    mount namespace has it too), unmounted at the end."""
    path = os.path.join(lab.workdir, "small-disk")
    os.makedirs(path)
    mounts.mount("tmpfs", path, "tmpfs", data="size=1m,mode=0755")  # no mount(8) in every Debian root
    try:
        yield path
    finally:
        lab.close()  # Kea and its scripts first: they hold files in it
        try:
            mounts.umount(path)
        except OSError:
            mounts.umount(path, lazy=True)


@pytest.mark.time_limit(120)
def test_a_full_disk_under_the_spool_neither_stops_nor_crashes_kea(lab, hook_so, small_disk):
    """The spool is on a 1 MB tmpfs and the script hangs: the memory queue (10) and then the
    disk fill up under perfdhcp's 300 DORAs, at 4 hook points each. Kea answers every exchange,
    logs RUNSCRIPT_SPOOL_FAILED (not once per event), stops in time with status 0; started
    again once the script works, it delivers what the spool kept, and a new client's events."""
    flag, ledger = (os.path.join(lab.workdir, name) for name in ("flag", "ledger"))
    open(flag, "w").close()
    script = exec_script(lab)
    entry = {"script": script, "wait": False, "hooks": ["pkt4_receive", "subnet4_select", "lease4_select", "pkt4_send"],
             "queue-limit": 10, "spool-dir": small_disk, "env": {"LEDGER": ledger, "FLAG": flag}}
    kea = lab.start_kea(config(lab, hook_so, **entry))
    result = lab.perfdhcp(exchanges=300, rate=200)
    assert result.returncode in (0, 3), result.output  # 3: "drops", see lab/perfdhcp.py
    discovers, requests = result.sent("DISCOVER-OFFER"), result.sent("REQUEST-ACK")
    assert discovers >= 300 and requests >= 300, result.output

    def sent(name):
        return kea.command("statistic-get", {"name": name})[name][0][0]
    wait_until(lambda: sent("pkt4-offer-sent") >= discovers and sent("pkt4-ack-sent") >= requests, timeout=10,
               what=f"Kea to answer {discovers} DISCOVERs and {requests} REQUESTs")
    assert (sent("pkt4-offer-sent"), sent("pkt4-ack-sent")) == (discovers, requests)
    failed = kea.wait_log(rf"RUNSCRIPT_SPOOL_FAILED {re.escape(script)} \(\w+\): cannot write to the spool "
                          rf"{re.escape(small_disk)}\S*: ")
    # Every message makes 2 events (4 hook points, DORA): logged first, then every 1000th.
    assert len(failed) <= 1 + 4 * (discovers + requests) // 1000, f"logged for every event: {len(failed)} lines"
    assert kea.is_running()
    stop_in_time(kea)
    wait_until(lambda: not pids_of(script), timeout=5, what="the hung runs to be gone with Kea")

    os.unlink(flag)
    kea = lab.start_kea(kea.config)
    kept = delivered_first(kea, script)
    assert kept > 0
    wait_until(lambda: len(read_ledger(ledger)) >= kept, timeout=60, what="what the spool kept")
    assert lab.dhcp4().dora("02:aa:00:00:00:07").type == "DHCPACK"
    # Its 8 events (2 messages at 4 hook points) find room, on disk or in memory.
    wait_until(lambda: len([e for e in read_ledger(ledger) if e.mac == "02:aa:00:00:00:07"]) >= 8, timeout=10,
               what="a new client's events after the disk had been full")
    stop_in_time(kea)
    assert len([e for e in read_ledger(ledger) if e.mac == "02:aa:00:00:00:07"]) == 8


# --- 8: reconfiguration after reconfiguration -----------------------------------------------------

RECONFIGURATIONS = 60


@pytest.mark.time_limit(180)
def test_reconfigurations_with_a_backlog_leak_nothing_and_lose_no_event(lab, hook_so):
    """An exec script (0.3 s per event) and a worker (0.1 s), both on lease4_select, and 60
    reconfigurations (SIGHUP), two new clients served before each: the events come faster than
    the two take them, so each reconfiguration finds some running and more waiting. Every client
    is served; in the end each event has reached each of the two exactly once, in order; once
    the last reconfiguration has settled and everything is delivered, Kea holds no more
    descriptors, threads or children than after the first.

    (The clients do not talk to Kea during a reconfiguration: Kea closes and opens its sockets
    then, and a message sent meanwhile is lost, by Kea, whatever the hook does.)"""
    exec_ledger, worker_ledger = (os.path.join(lab.workdir, name) for name in ("exec-ledger", "worker-ledger"))
    exec_path, worker_path = exec_script(lab), worker_script(lab)
    kea = lab.start_kea(config(lab, hook_so, wait=False, hooks=["lease4_select"], scripts=[
        {"script": exec_path, "env": {"LEDGER": exec_ledger, "DELAY": "0.3"}},
        {"script": worker_path, "mode": "worker", "env": {"LEDGER": worker_ledger, "DELAY": "0.1"}},
    ]))
    served = []

    def delivered():
        return min(len(read_ledger(exec_ledger)), len(read_ledger(worker_ledger)))

    def settled(baseline):
        now = kea.resources()
        if now["threads"] <= baseline["threads"] and len(now["fds"]) <= len(baseline["fds"]) \
                and len(now["children"]) <= len(baseline["children"]):
            return now
        return None

    served += serve(lab, macs(2, 8))
    kea.reload()
    wait_until(lambda: delivered() >= 2 * len(served), timeout=20, what="the first clients' events")
    wait_until(lambda: len(kea.resources()["children"]) == 1, timeout=10, what="the worker alone")
    baseline = kea.resources()

    clients = macs(2 * (RECONFIGURATIONS - 1), 9)
    backlog = []
    for i in range(RECONFIGURATIONS - 1):
        served += serve(lab, clients[2 * i:2 * i + 2], at_a_time=2)
        backlog.append(2 * len(served) - delivered())
        kea.reload()
    assert len(kea.log_lines(r"DHCP4_DYNAMIC_RECONFIGURATION_SUCCESS")) == RECONFIGURATIONS
    assert max(backlog) >= 20, f"never more than {max(backlog)} events waited at a reconfiguration"
    assert kea.log_lines(rf"RUNSCRIPT_SPOOL {re.escape(exec_path)}: \d+ events? left in the spool .* delivered first")

    wait_until(lambda: delivered() >= 2 * len(served), timeout=60, what="every event")
    try:
        now = wait_until(lambda: settled(baseline), timeout=10, what="Kea's resources to settle")
    except AssertionError:
        now = kea.resources()
        pytest.fail(f"after {RECONFIGURATIONS} reconfigurations: threads {baseline['threads']} -> {now['threads']}, "
                    f"descriptors {len(baseline['fds'])} -> {len(now['fds'])} "
                    f"(new: {sorted((Counter(now['fds']) - Counter(baseline['fds'])).elements())[:20]}), "
                    f"children {baseline['children']} -> {now['children']}")
    assert len(now["children"]) == 1
    stop_in_time(kea)
    assert_once_in_order(read_ledger(exec_ledger), served)
    assert_once_in_order(read_ledger(worker_ledger), served)
    assert not kea.log_lines(r"RUNSCRIPT_(DEAD_LETTER|SPOOL_FAILED|UNDELIVERED)")


# --- the spool's directory ---------------------------------------------------------------------

@pytest.mark.parametrize("case", ["missing", "not a directory"])
def test_a_spool_dir_that_cannot_be_used_is_refused_at_load(lab, hook_so, case):
    from lab.kea import KeaError
    spool_dir = os.path.join(lab.workdir, "no-such-dir")
    if case == "not a directory":
        open(spool_dir, "w").close()
    script = exec_script(lab)
    with pytest.raises(KeaError) as refused:
        lab.start_kea(config(lab, hook_so, script=script, wait=False, hooks=["lease4_select"],
                             **{"spool-dir": spool_dir}))
    (line,) = [line for line in refused.value.log.splitlines() if "RUNSCRIPT_LOAD_FAILED" in line]
    assert "'spool-dir'" in line, line
