"""Bounded waiting: every wait in the lab goes through wait_until()."""

import time


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
