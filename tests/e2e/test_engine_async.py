"""Scripts Kea does not wait for, on a real kea-dhcp4: the ordered queue, what happens when it is
full (drop, block for a second at most, or the spool by default) and at unload (what waits stays
in the spool for the next start), and the replay of the lease database at start-up. The chaos
cases (hung scripts, kill -9, a full disk...) are in test_delivery.py."""

import os
import re
import time

import pytest

from lab import hook, slack

RECLAIM = {"reclaim-timer-wait-time": 1, "flush-reclaimed-timer-wait-time": 0, "hold-reclaimed-time": 0}


def macs(count, base=0x10):
    return [f"02:00:00:00:{(base + i) >> 8:02x}:{(base + i) & 0xff:02x}" for i in range(count)]


@pytest.mark.time_limit(90)
def test_events_about_a_lease_keep_their_order_with_multithreading(lab, hook_so):
    """Each client takes a lease and releases it at once; the script is slow and four run at a
    time, so a release would often start before its select if the queue did not keep per-lease
    order."""
    rec = lab.recorder(tail="/bin/sleep 0.3")
    lab.start_kea(lab.config4(multi_threading=True, hooks=[hook(
        str(hook_so), script=rec.script, wait=False, hooks=["lease4_select", "lease4_release"],
        **{"max-concurrency": 4})]))
    client = lab.dhcp4()
    clients = macs(12)
    for mac in clients:
        ack = client.dora(mac)
        assert ack is not None and ack.type == "DHCPACK"
        client.release(mac, ack.yiaddr, ack.server_id)
    rec.wait_for("lease4_release", count=len(clients), timeout=30)
    rec.wait_for("lease4_select", count=2 * len(clients), timeout=30)
    for mac in clients:
        mine = [c for c in rec.calls() if c.env.get("KEA_LEASE4_HWADDR") == mac]
        order = [(c.hook, c.env.get("KEA_FAKE_ALLOCATION")) for c in mine]
        # DISCOVER's select, REQUEST's select, then the release: never another order.
        assert order == [("lease4_select", "1"), ("lease4_select", "0"), ("lease4_release", None)], (mac, order)
        starts = [c.time_ns for c in mine]
        # Not merely started in order: each one started after the one before it had finished.
        assert all(b - a >= 0.25e9 for a, b in zip(starts, starts[1:])), (mac, starts)


@pytest.mark.time_limit(60)
def test_a_full_queue_drops_when_told_to_and_kea_keeps_answering(lab, hook_so):
    """Two events fill the queue; the other four are dropped, and every
    DISCOVER is answered while the first script still runs (a script that
    outlasts the six DISCOVERs several times over, here)."""
    rec = lab.recorder(tail=f"/bin/sleep {4 * slack():.1f}")
    kea = lab.start_kea(lab.config4(hooks=[hook(
        str(hook_so), script=rec.script, wait=False, hooks=["pkt4_receive"],
        **{"queue-limit": 2, "max-concurrency": 1, "on-full": "drop"})]))
    client = lab.dhcp4()
    for mac in macs(6):
        assert client.discover(mac) is not None
    lines = kea.wait_log(r"RUNSCRIPT_QUEUE_FULL .*queue full \(2 events\), event dropped; 1 dropped so far")
    assert "pkt4_receive" in lines[0]
    last_offer = kea.log_position(r"DHCP4_PACKET_SEND .* DHCPOFFER", last=True)
    first_end = kea.log_position("RUNSCRIPT_SCRIPT_DONE")
    assert first_end is None or last_offer < first_end, "Kea waited for a script to end"


@pytest.mark.time_limit(60)
def test_a_full_queue_makes_kea_wait_for_room_when_told_to_and_says_so(lab, hook_so):
    """on-full: block. Two events fill the queue (one running, one waiting): the third DISCOVER
    holds Kea's thread until the first script ends (0.4 s, within the second Kea waits at most),
    is still answered, Kea's log says it waited, and all four events are delivered in order."""
    rec = lab.recorder(tail="/bin/sleep 0.4")
    kea = lab.start_kea(lab.config4(hooks=[hook(
        str(hook_so), script=rec.script, wait=False, hooks=["pkt4_receive"],
        **{"queue-limit": 2, "max-concurrency": 1, "on-full": "block"})]))
    client = lab.dhcp4()
    latencies = []
    for mac in macs(4):
        started = time.monotonic()
        assert client.discover(mac) is not None
        latencies.append(time.monotonic() - started)
    (line,) = kea.wait_log(r"RUNSCRIPT_QUEUE_FULL .*\(pkt4_receive\): queue full \(2 events\).*waits so far: 1$")
    # The third DISCOVER waited for the first script's 0.4 s, and never past the second.
    assert 0.2 <= latencies[2] <= 1.0 + slack(), latencies
    calls = rec.wait_for("pkt4_receive", count=4, timeout=20)
    assert [c.env["KEA_QUERY4_HWADDR"] for c in calls] == macs(4)


def hung_recorder(lab):
    """A recorder whose runs hang (after recording) while the file it returns exists."""
    flag = os.path.join(lab.workdir, "hang")
    open(flag, "w").close()
    return lab.recorder(tail=f"while [ -e {flag} ]; do /bin/sleep 0.05; done"), flag


@pytest.mark.time_limit(60)
def test_a_full_queue_makes_kea_wait_a_second_at_most_then_spools(lab, hook_so):
    """on-full: block with a script that hangs: no room comes, so the first DISCOVER past the
    full queue holds Kea's thread for the second it waits at most, and no DISCOVER longer; the
    events go to the spool, and once the script works again all four are delivered, in order."""
    rec, flag = hung_recorder(lab)
    kea = lab.start_kea(lab.config4(hooks=[hook(
        str(hook_so), script=rec.script, wait=False, hooks=["pkt4_receive"],
        **{"queue-limit": 2, "max-concurrency": 1, "on-full": "block"})]))
    client = lab.dhcp4()
    latencies = []
    for mac in macs(4):
        started = time.monotonic()
        assert client.discover(mac) is not None
        latencies.append(time.monotonic() - started)
    assert latencies[2] >= 0.9 and max(latencies) <= 1.0 + slack(), latencies
    assert kea.log_lines(r"RUNSCRIPT_QUEUE_FULL .*\(pkt4_receive\)")
    assert len(rec.wait_for("pkt4_receive", count=1)) == 1
    os.unlink(flag)
    calls = rec.wait_for("pkt4_receive", count=4, timeout=20)
    assert [c.env["KEA_QUERY4_HWADDR"] for c in calls] == macs(4)


@pytest.mark.time_limit(60)
def test_a_full_queue_spools_by_default_and_kea_does_not_wait(lab, hook_so):
    """No on-full: the default spools. With the script hung and two events in memory, the
    other four DISCOVERs are answered without Kea waiting (no wait is logged), their events wait
    in the spool, and all six are delivered in order once the script works again."""
    rec, flag = hung_recorder(lab)
    script = rec.script
    kea = lab.start_kea(lab.config4(hooks=[hook(
        str(hook_so), script=script, wait=False, hooks=["pkt4_receive"],
        **{"queue-limit": 2, "max-concurrency": 1})]))
    client = lab.dhcp4()
    for mac in macs(6):
        assert client.discover(mac) is not None
    (line,) = kea.wait_log(rf"RUNSCRIPT_QUEUE_FULL {re.escape(script)} \(pkt4_receive\): 2 events wait in memory; "
                           r"the next ones wait in the spool ")
    assert not kea.log_lines(r"RUNSCRIPT_QUEUE_FULL .*waits so far")
    assert len(rec.wait_for("pkt4_receive", count=1)) == 1
    os.unlink(flag)
    calls = rec.wait_for("pkt4_receive", count=6, timeout=20)
    assert [c.env["KEA_QUERY4_HWADDR"] for c in calls] == macs(6)


@pytest.mark.time_limit(60)
def test_unload_leaves_what_is_queued_for_the_next_start(lab, hook_so):
    """Kea stops while events wait: the run under way ends, what waits stays in the spool (and
    the log says how many), and the next Kea delivers it first: each event once, in order."""
    rec = lab.recorder(tail="/bin/sleep 0.3")
    script = rec.script
    kea = lab.start_kea(lab.config4(hooks=[hook(
        str(hook_so), script=script, wait=False, hooks=["pkt4_receive"],
        **{"max-concurrency": 1})]))
    client = lab.dhcp4()
    for mac in macs(5):
        client.discover(mac)
    assert len(rec.calls("pkt4_receive")) < 4, "nothing left in the queue at stop: test too weak"
    kea.stop()
    delivered = len(rec.calls("pkt4_receive"))
    (line,) = kea.log_lines(rf"RUNSCRIPT_SPOOL {re.escape(script)}: \d+ events? not yet delivered stay in the spool ")
    assert int(re.search(r": (\d+) events?", line).group(1)) == 5 - delivered, (line, delivered)
    assert not kea.log_lines("RUNSCRIPT_UNDELIVERED")
    kea = lab.start_kea(kea.config)
    rec.wait_for("pkt4_receive", count=5, timeout=20)
    kea.stop()
    assert [c.env["KEA_QUERY4_HWADDR"] for c in rec.calls()] == macs(5)


def write_memfile(path, active, expired, declined):
    """A Kea 2.2 memfile: `active` leases (the first 90 fill 192.0.2.10-99 in subnet 1, the rest
    go to 10.0.0.0/8, subnet 2), then expired and declined ones, which replay must skip."""
    now = int(time.time())
    rows = ["address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,"
            "state,user_context"]
    for i in range(active):
        address, subnet = (f"192.0.2.{10 + i}", 1) if i < 90 else (f"10.0.{i >> 8}.{i & 0xff}", 2)
        rows.append(f"{address},02:00:00:01:{i >> 8:02x}:{i & 0xff:02x},,3600,{now + 3600},{subnet},"
                    f"0,0,host-{i},0,")
    for i in range(expired):
        rows.append(f"10.1.0.{i + 1},02:00:00:02:00:{i:02x},,3600,{now - 60},2,0,0,gone-{i},0,")
    for i in range(declined):
        rows.append(f"10.1.1.{i + 1},,,3600,{now + 3600},2,0,0,,1,")
    with open(path, "w") as f:
        f.write("\n".join(rows) + "\n")


@pytest.mark.time_limit(90)
def test_replay_delivers_every_active_lease_while_kea_serves(lab, hook_so):
    active = 1200  # several of the library's 500-lease pages
    rec = lab.recorder(tail="/bin/sleep 0.01")
    config = lab.config4(persist=True, valid_lifetime=3600, hooks=[hook(
        str(hook_so), script=rec.script, wait=False, hooks=["lease4_select"], replay=True,
        **{"max-concurrency": 2})])
    write_memfile(config["Dhcp4"]["lease-database"]["name"], active, expired=5, declined=5)
    kea = lab.start_kea(config, timeout=60)
    # Kea answers while the replay runs.
    ack = lab.dhcp4().dora("02:aa:bb:cc:dd:99")
    assert ack is not None and ack.type == "DHCPACK"
    assert len(rec.calls("lease4_replay")) < active, "replay finished before the DORA: test too weak"
    # The lease the DORA took is in the database too: replay may or may not meet it.
    (line,) = kea.wait_log(r"RUNSCRIPT_REPLAY_DONE DHCPv4 lease replay done: \d+ active leases", timeout=60)
    replayed = int(line.split("done: ")[1].split()[0])
    assert replayed in (active, active + 1), line
    calls = rec.wait_for("lease4_replay", count=replayed, timeout=60)
    by_address = {c.env["KEA_LEASE4_ADDRESS"]: c.env for c in calls}
    assert len(by_address) == len(calls) == replayed
    assert set(by_address) - {ack.yiaddr} == {
        f"192.0.2.{10 + i}" if i < 90 else f"10.0.{i >> 8}.{i & 0xff}" for i in range(active)}
    first = by_address["192.0.2.10"]
    assert (first["KEA_LEASE4_HWADDR"], first["KEA_LEASE4_HOSTNAME"], first["KEA_LEASE4_STATE"]) == \
        ("02:00:00:01:00:00", "host-0", "default")
    assert first["KEA_LEASE4_SUBNET_ID"] == "1"
