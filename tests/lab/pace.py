"""How slow this machine is, measured once per run, so that the lab's deadlines and the tests'
timing windows follow the machine they run on instead of the one they were written on.

Hook scripts are processes, and so is most of what the lab starts: on a machine where starting
one costs ten times more, Kea's answers (with "wait": true), script runs and everything the tests
wait for take up to ten times longer. The lab measures that cost once, lazily, the way the hook
starts scripts (a shell starting /bin/true, over and over), and turns it into a slowness factor
relative to a fast machine (FAST_EXEC: factor 1; never below 1, at most MAX_FACTOR):

    scaled(seconds)  a deadline: how long to wait for something that should happen. Deadlines
                     only cost time when something is wrong, so they are generous;
    slack()          the margin for one timing window: what an upper bound adds to the duration
                     it expects, and how long a test waits to see that no answer comes.

Every bound in the lab is written as on a fast machine and goes through these.
KEALAB_SLOWNESS=<factor> skips the measurement and uses that factor (e.g. to see what the
suite does on a machine ten times slower).
"""

import os
import subprocess
import time

FAST_EXEC = 0.0005   # seconds one fork + exec of /bin/true from sh costs on a fast, idle machine
MAX_FACTOR = 20      # beyond that, a machine is too slow for the suite's fixed durations
SLACK = 0.5          # seconds: one timing window's margin on a fast machine
_EXECS, _ROUNDS = 30, 3

_measured = {}


def _round():
    loop = f"i=0; while [ $i -lt {_EXECS} ]; do /bin/true; i=$((i + 1)); done"
    started = time.monotonic()
    subprocess.run(["/bin/sh", "-c", loop], check=True, timeout=120)
    return (time.monotonic() - started) / _EXECS


def exec_cost():
    """Seconds one process start costs here: a shell running /bin/true over
    and over, as the hook's scripts are started; the median of a few rounds,
    so that one hiccup does not set the pace of a whole run. Measured on the
    first call only."""
    if "cost" not in _measured:
        _measured["cost"] = sorted(_round() for _ in range(_ROUNDS))[_ROUNDS // 2]
    return _measured["cost"]


def factor():
    """How many times slower than a fast machine this one starts processes (1 to MAX_FACTOR)."""
    forced = os.environ.get("KEALAB_SLOWNESS")
    if forced:
        return min(MAX_FACTOR, max(1.0, float(forced)))
    return min(MAX_FACTOR, max(1.0, exec_cost() / FAST_EXEC))


def scaled(seconds):
    """A deadline of `seconds` on a fast machine, for this one."""
    return seconds * factor()


def slack():
    """The margin of one timing window here, in seconds."""
    return scaled(SLACK)


def describe():
    """One line for the test report: what was measured and what the lab makes of it."""
    forced = os.environ.get("KEALAB_SLOWNESS")
    measured = f"KEALAB_SLOWNESS={forced}" if forced else f"{exec_cost() * 1000:.2f} ms per process start"
    return f"lab pace: {measured}: slowness x{factor():.1f} (deadlines scaled by it, timing slack {slack():.2f} s)"
