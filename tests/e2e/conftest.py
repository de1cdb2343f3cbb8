"""Fixtures for the end-to-end tests: a fresh lab (namespaces, veth, work
directory) per test, torn down whatever happens, and a hard time limit per
test so that nothing can hang the run. Like every bound in the lab, the limit
is scaled to the machine's measured slowness (lab/pace.py), which the run
reports.

Needs root (namespaces, raw sockets) and Debian's python3 (scapy, pytest):
    /usr/bin/python3 -m pytest tests/e2e
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from lab import Lab, pace, sweep_stale  # noqa: E402  (needs the path above)
from lab.netns import PREFIX  # noqa: E402
from lab.wait import time_limit as _time_limit  # noqa: E402

# Our hook, once the Makefile has built it: in build/, or where the Makefile's BUILD says (one
# build per Kea release, see tools/kea-root).
HOOK_SO = REPO / os.environ.get("RUNSCRIPT_BUILD", "build") / "kea-hook-runscript.so"
# Longest a test may take on a fast machine, set-up and teardown included;
# tests that wait for leases to expire can ask for more with
# @pytest.mark.time_limit(s). Scaled to this machine.
DEFAULT_TIME_LIMIT = 60


def pytest_configure(config):
    config.addinivalue_line("markers", "time_limit(seconds): hard limit for one test on a fast machine "
                                       "(default 60 s), scaled to this one")
    if os.geteuid() != 0:
        raise pytest.UsageError("tests/e2e need root: they create network namespaces and run Kea")


def pytest_report_header(config):
    """How slow this machine is, measured once for the whole run."""
    return pace.describe()


def pytest_terminal_summary(terminalreporter, config):
    """The same at the end when -q hides the header: a run says what pace it assumed."""
    if config.option.verbose < 0:
        terminalreporter.write_line(pace.describe())


@pytest.fixture(autouse=True)
def time_limit(request):
    """SIGALRM after the limit (scaled by lab.wait.time_limit): raises in the
    test (or its teardown), so the lab fixture still unwinds and cleans up."""
    marker = request.node.get_closest_marker("time_limit")
    limit = marker.args[0] if marker else DEFAULT_TIME_LIMIT
    with _time_limit(limit, request.node.nodeid):
        yield


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind():
    """Remove what a killed earlier run left; check this run leaves nothing."""
    sweep_stale()
    yield
    ours = f"{PREFIX}-{os.getpid()}-"
    leftover = [line for line in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                                check=True).stdout.splitlines() if line.startswith(ours)]
    assert not leftover, f"namespaces left behind: {leftover}"


@pytest.fixture
def lab(tmp_path):
    """A fresh Lab whose work directory is the test's tmp_path (kept by
    pytest for the last runs: Kea's config, log and the recorded calls)."""
    with Lab(workdir=tmp_path) as the_lab:
        yield the_lab


@pytest.fixture(scope="session")
def hook_so():
    """Path of our built hook library; skips the test until it is built."""
    if not HOOK_SO.exists():
        pytest.skip(f"{HOOK_SO} not built yet (make)")
    return HOOK_SO
