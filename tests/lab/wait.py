"""Bounded waiting: every wait in the lab goes through wait_until(), and
time_limit() bounds whole blocks (a test, a shared scenario).

Both take their bound in seconds as on a fast machine and stretch it by the
machine's measured slowness (pace.scaled()): a deadline only costs time when
something is wrong, so it may be generous. Waiting for datagrams is the one
exception, as a test that expects no answer waits out the whole window: the
clients pass reply_timeout() their explicit window, or get a scaled deadline."""

import math
import signal
import socket
import time
from contextlib import contextmanager

from .pace import factor, scaled, slack

# Seconds a DHCP answer may take on a fast machine (it takes milliseconds).
REPLY_DEADLINE = 5.0


class WaitTimeout(AssertionError):
    """A condition did not become true in time (an AssertionError so that
    pytest reports it as a test failure, not an error in the harness)."""


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    """Poll `predicate` until it returns something truthy; return that value.
    Raise WaitTimeout after `timeout` seconds, scaled to this machine."""
    limit = scaled(timeout)
    deadline = time.monotonic() + limit
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {limit:.1f}s ({timeout}s x{factor():.1f}) waiting for {what}")
        time.sleep(interval)


def reply_timeout(timeout=None):
    """How long a client waits for an answer: `timeout` seconds as given (a
    test that expects no answer keeps that window short and explicit), or by
    default a deadline scaled to this machine, which a real answer ends at once."""
    return scaled(REPLY_DEADLINE) if timeout is None else timeout


@contextmanager
def expect_silence(client, seconds=None):
    """Within the block, `client` (a lab client: anything with a .timeout)
    waits only `seconds` (default: pace.slack()) for each answer, for the
    messages that must get none: that window is waited out in full."""
    kept, client.timeout = client.timeout, slack() if seconds is None else seconds
    try:
        yield client
    finally:
        client.timeout = kept


def datagrams(sock, timeout):
    """Yield what `sock` receives (bytes), one datagram at a time, until
    `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            yield sock.recv(65535)
        except socket.timeout:
            return


@contextmanager
def time_limit(seconds, what="block"):
    """Raise TimeoutError in the main thread if the block runs longer than
    `seconds`, scaled to this machine (SIGALRM, so it interrupts blocking
    calls too). Nests: an outer limit is suspended meanwhile and re-armed
    with what it had left."""
    limit = math.ceil(scaled(seconds))

    def expire(_signum, _frame):
        raise TimeoutError(f"{what} exceeded its {limit}s time limit ({seconds}s x{factor():.1f})")

    previous = signal.signal(signal.SIGALRM, expire)
    outer_left = signal.alarm(limit)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:
            signal.alarm(max(1, outer_left - int(time.monotonic() - started)))
