""""timeout-ms" end to end: Kea is held no longer than the timeout, the
overdue script's whole process group is killed (SIGTERM, then SIGKILL 1 s
later if it ignores that), and it is logged.

The scripts sleep a minute, far longer than any bound below: each upper
bound is the timeout plus the margin of one timing window (lab.slack()), or
the order of Kea's own log lines, never an absolute duration tuned on one
machine."""

import os
import re
import time

from configtools import processes_named, write_script
from lab import hook, slack, wait_until
from lab.wait import expect_silence

# Kea sends the OFFER (its log is at debug level in the lab).
OFFER_SENT = r"DHCP4_PACKET_SEND .* DHCPOFFER"


def _discover_latency(client, mac):
    started = time.monotonic()
    offer = client.discover(mac)
    elapsed = time.monotonic() - started
    assert offer is not None and offer.type == "DHCPOFFER", f"no OFFER for {mac}"
    return elapsed


def test_timeout_bounds_the_delay_and_kills_the_script(lab, hook_so):
    script = write_script(f"{lab.workdir}/sleepy.sh", "/bin/sleep 60")
    kea4 = lab.start_kea(lab.config4(hooks=[hook(hook_so, script=script, wait=True, hooks=["pkt4_receive"],
                                                 **{"timeout-ms": 200})]))
    client = lab.dhcp4()

    # Without the hook's delay a few ms; with it, the 200 ms timeout, not the minute of sleep.
    latencies = [_discover_latency(client, f"02:ee:00:00:00:0{i}") for i in (1, 2)]
    for latency in latencies:
        assert 0.15 <= latency <= 0.2 + slack(), latencies

    timeouts = kea4.wait_log("RUNSCRIPT_TIMEOUT", count=2)
    assert len(timeouts) == 2, timeouts
    for line in timeouts:
        assert " WARN " in line
        assert f"{script} (pkt4_receive): still running at its timeout; sending SIGTERM to its process group" in line
    # No leftover: neither the shell nor its `sleep` child (killed as a group).
    started = [int(pid) for pid in re.findall(r"RUNSCRIPT_SCRIPT_STARTED .*started, pid (\d+)", kea4.log())]
    assert len(started) == 2
    wait_until(lambda: not processes_named(lab.net.server, "sleep") and not processes_named(lab.net.server, "sleepy.sh"),
               timeout=3, what="the timed-out scripts to be gone")
    wait_until(lambda: not [pid for pid in started if os.path.exists(f"/proc/{pid}")], timeout=3,
               what="the timed-out scripts to be reaped, not left as zombies")
    assert kea4.is_running()


def test_timeout_sigkill_when_sigterm_is_ignored(lab, hook_so):
    # `trap '' TERM` is inherited by sleep: only SIGKILL ends them.
    script = write_script(f"{lab.workdir}/stubborn.sh", "trap '' TERM\n/bin/sleep 60")
    kea4 = lab.start_kea(lab.config4(hooks=[hook(hook_so, script=script, wait=True, hooks=["pkt4_receive"],
                                                 **{"timeout-ms": 200})]))
    client = lab.dhcp4()
    assert _discover_latency(client, "02:ee:00:00:00:03") <= 0.2 + slack()
    kea4.wait_log(r"RUNSCRIPT_TIMEOUT .*still running at its timeout; sending SIGTERM")

    def group():
        return processes_named(lab.net.server, "stubborn.sh") + processes_named(lab.net.server, "sleep")

    # After the timeout the group ignored SIGTERM and is still there: certain
    # as long as the hook has not logged its SIGKILL (it logs, then kills).
    still_there = group()
    if not kea4.log_lines("ignored SIGTERM"):
        assert still_there
    sigkill = rf"RUNSCRIPT_TIMEOUT .*{re.escape(script)} \(pkt4_receive\): ignored SIGTERM; sending SIGKILL"
    kea4.wait_log(sigkill, timeout=4)
    assert kea4.log_position(OFFER_SENT) < kea4.log_position(sigkill)  # Kea did not wait for the SIGKILL
    wait_until(lambda: not group(), timeout=3, what="the script and its sleep to be SIGKILLed")
    stamps = [line[:23] for line in kea4.log_lines("RUNSCRIPT_TIMEOUT")]
    term, killed = (time.mktime(time.strptime(s[:19], "%Y-%m-%d %H:%M:%S")) + float(s[19:]) for s in stamps)
    assert 0.9 <= killed - term <= 1.0 + slack(), stamps


def test_timeout_counts_as_failure_for_on_failure(lab, hook_so):
    """A run killed at its timeout is a failed run: with "on-failure": "drop" the packet is dropped."""
    script = write_script(f"{lab.workdir}/sleepy.sh", "/bin/sleep 60")
    kea4 = lab.start_kea(lab.config4(hooks=[hook(hook_so, script=script, hooks=["pkt4_receive"],
                                                 **{"timeout-ms": 200, "on-failure": "drop"})]))
    # Dropped at the timeout: no OFFER comes, in a window well past it.
    with expect_silence(lab.dhcp4(), 0.2 + slack()) as client:
        assert client.discover("02:ee:00:00:00:04") is None
    kea4.wait_log("RUNSCRIPT_TIMEOUT")
    (step,) = kea4.wait_log("RUNSCRIPT_NEXT_STEP")
    assert f"{script} (pkt4_receive): failed; on-failure is \"drop\"" in step
    wait_until(lambda: not processes_named(lab.net.server, "sleep"), timeout=3, what="sleep to be killed")


def test_timeout_applies_to_scripts_kea_does_not_wait_for(lab, hook_so):
    """wait=false with an explicit timeout-ms: Kea answers at once, the
    supervisor still kills the script at its timeout."""
    script = write_script(f"{lab.workdir}/sleepy.sh", "exec /bin/sleep 60")
    kea4 = lab.start_kea(lab.config4(hooks=[hook(hook_so, script=script, wait=False, hooks=["pkt4_receive"],
                                                 **{"timeout-ms": 1000})]))
    assert lab.dhcp4().discover("02:ee:00:00:00:05").type == "DHCPOFFER"
    timeout = rf"RUNSCRIPT_TIMEOUT {re.escape(script)} \(pkt4_receive\): still running at its timeout"
    kea4.wait_log(timeout, timeout=3)
    # Not held by the script: the OFFER went out while it ran, before its timeout.
    assert kea4.log_position(OFFER_SENT) < kea4.log_position(timeout)
    wait_until(lambda: not processes_named(lab.net.server, "sleep"), timeout=3, what="sleep to be killed")
