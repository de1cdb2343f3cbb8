"""Bounded waiting: every wait in the lab goes through wait_until(), and
time_limit() bounds whole blocks (a test, a shared scenario)."""

import signal
import socket
import time
from contextlib import contextmanager


class WaitTimeout(AssertionError):
    """A condition did not become true in time (an AssertionError so that
    pytest reports it as a test failure, not an error in the harness)."""


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    """Poll `predicate` until it returns something truthy; return that value.
    Raise WaitTimeout after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


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
    `seconds` (SIGALRM, so it interrupts blocking calls too). Nests: an
    outer limit is suspended meanwhile and re-armed with what it had left."""
    def expire(_signum, _frame):
        raise TimeoutError(f"{what} exceeded its {seconds}s time limit")

    previous = signal.signal(signal.SIGALRM, expire)
    outer_left = signal.alarm(seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:
            signal.alarm(max(1, outer_left - int(time.monotonic() - started)))
