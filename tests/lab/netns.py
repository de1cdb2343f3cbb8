"""Two network namespaces joined by a veth pair, and the processes run in them.

The lab never touches the host's interfaces: the veth pair is created
directly inside the two namespaces (`ip link add ... netns`), so its ends
never exist in the host namespace, and every packet the lab sends leaves
from, and goes to, an address inside them.

Cleanup is layered because a leaked namespace outlives the test run:
  1. `Network` is a context manager whose close() kills what it started,
     then everything still running inside its namespaces, then deletes them;
  2. open networks are also closed at interpreter exit and on SIGTERM/SIGHUP;
  3. namespace names carry the owner's pid, so sweep_stale() can remove
     namespaces whose owner was SIGKILLed.
"""

import atexit
import ctypes
import json
import os
import re
import secrets
import signal
import subprocess
import threading
from contextlib import contextmanager

from .pace import scaled
from .wait import wait_until

PREFIX = "kealab"
SERVER_IFACE = "veth-s"
CLIENT_IFACE = "veth-c"
SERVER_V4 = "192.0.2.1"
SERVER_V4_PREFIXLEN = 24
SERVER_V6 = "2001:db8:1::1"
SERVER_V6_PREFIXLEN = 64
RELAY_V4 = "192.0.2.2"

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_NAME_RE = re.compile(rf"^{PREFIX}-(\d+)-[0-9a-f]+-[sc]$")


def _ip(*args, timeout=10):
    """Run `ip ARGS`; raise with ip's own message when it fails."""
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=scaled(timeout))
    if proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def _setns(fd):
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def stop_process(proc, timeout=5):
    """SIGTERM `proc` (a Popen), SIGKILL it if it is still there after
    `timeout` seconds (scaled); reap it; return its exit status. Only the process
    itself is signalled, as a service manager would: what it spawned (hook
    scripts) sees a normal shutdown, and Netns.stop_all() kills leftovers."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            break
        proc.send_signal(sig)
        try:
            proc.wait(timeout=scaled(wait))
        except subprocess.TimeoutExpired:
            pass
    return proc.poll()


class Netns:
    """One named network namespace (it must already exist)."""

    def __init__(self, name):
        self.name = name
        self._procs = []

    def argv(self, argv):
        """`argv` prefixed so that it runs inside this namespace."""
        return ["ip", "netns", "exec", self.name, *map(str, argv)]

    def run(self, argv, timeout=30, check=True, **kwargs):
        """Run `argv` inside the namespace to completion (bounded by
        `timeout`, scaled)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(self.argv(argv), timeout=scaled(timeout), check=check, **kwargs)

    def popen(self, argv, **kwargs):
        """Start `argv` inside the namespace in its own process group; it is
        stopped by stop_all() (and so by Network.close())."""
        proc = subprocess.Popen(self.argv(argv), start_new_session=True, **kwargs)
        self._procs.append(proc)
        return proc

    def stop_all(self):
        """Stop what popen() started, then SIGKILL anything else still in
        the namespace (e.g. scripts Kea spawned and left running)."""
        for proc in reversed(self._procs):
            stop_process(proc)
        self._procs.clear()
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_until(lambda: not self.pids(), timeout=5, what=f"processes in {self.name} to die")

    def pids(self):
        """Pids of all processes whose network namespace is this one."""
        try:
            return [int(p) for p in _ip("netns", "pids", self.name).split()]
        except RuntimeError:
            return []  # the namespace is already gone

    @contextmanager
    def entered(self):
        """Switch the calling thread into the namespace for the block.

        Sockets created inside the block stay in the namespace for their
        whole life, which is how scapy-built packets are sent from here
        without a subprocess."""
        with open(f"/run/netns/{self.name}") as target, open("/proc/thread-self/ns/net") as home:
            _setns(target.fileno())
            try:
                yield self
            finally:
                _setns(home.fileno())

    def _link(self, iface):
        return json.loads(_ip("-n", self.name, "-j", "link", "show", iface))[0]

    def mac(self, iface):
        """The MAC address of `iface` in this namespace."""
        return self._link(iface)["address"]

    def ifindex(self, iface):
        """The interface index of `iface` in this namespace."""
        return self._link(iface)["ifindex"]

    def _link_local_info(self, iface):
        out = json.loads(_ip("-n", self.name, "-j", "-6", "addr", "show", "dev", iface, "scope", "link"))
        return out[0]["addr_info"] if out else []

    def link_local(self, iface):
        """The fe80:: address of `iface` in this namespace."""
        return self._link_local_info(iface)[0]["local"]

    def link_local_ready(self, iface):
        """True once `iface` has a non-tentative link-local address."""
        return any(not info.get("tentative") for info in self._link_local_info(iface))


class Network:
    """Server and client namespaces joined by veth-s <-> veth-c.

    server: veth-s with 192.0.2.1/24, 2001:db8:1::1/64 and a link-local;
    client: veth-c with only a link-local (plus RELAY_V4 after add_relay_address()).
    IPv6 DAD is off in both, so link-locals are usable at once."""

    def __init__(self):
        sweep_stale()
        tag = f"{PREFIX}-{os.getpid()}-{secrets.token_hex(3)}"
        self.server = Netns(f"{tag}-s")
        self.client = Netns(f"{tag}-c")
        self._closed = False
        _live.add(self)
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self):
        for ns in (self.server, self.client):
            _ip("netns", "add", ns.name)
            # DAD would keep the link-local "tentative" for ~1s: Kea and the
            # clients could not bind to it yet.
            ns.run(["sysctl", "-q", "-w",
                    "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"])
            _ip("-n", ns.name, "link", "set", "lo", "up")
        _ip("link", "add", SERVER_IFACE, "netns", self.server.name, "type", "veth",
            "peer", "name", CLIENT_IFACE, "netns", self.client.name)
        _ip("-n", self.server.name, "addr", "add", f"{SERVER_V4}/{SERVER_V4_PREFIXLEN}", "dev", SERVER_IFACE)
        _ip("-n", self.server.name, "addr", "add", f"{SERVER_V6}/{SERVER_V6_PREFIXLEN}", "dev", SERVER_IFACE)
        _ip("-n", self.server.name, "link", "set", SERVER_IFACE, "up")
        _ip("-n", self.client.name, "link", "set", CLIENT_IFACE, "up")
        wait_until(lambda: self.server.link_local_ready(SERVER_IFACE) and self.client.link_local_ready(CLIENT_IFACE),
                   timeout=5, what="link-local addresses")

    def add_relay_address(self):
        """Give veth-c RELAY_V4/24, the address the relayed v4 subnet is bound to."""
        _ip("-n", self.client.name, "addr", "replace", f"{RELAY_V4}/{SERVER_V4_PREFIXLEN}", "dev", CLIENT_IFACE)

    def close(self):
        """Kill every process in both namespaces and delete them. Idempotent."""
        if self._closed:
            return
        self._closed = True
        errors = []
        for ns in (self.client, self.server):
            try:
                ns.stop_all()
            except Exception as exc:  # keep going: the namespaces must go
                errors.append(exc)
        # Deleting the link first frees both veth ends even if some process
        # we could not kill still pins a namespace.
        for cmd in (["-n", self.server.name, "link", "del", SERVER_IFACE],
                    ["netns", "del", self.server.name], ["netns", "del", self.client.name]):
            try:
                _ip(*cmd)
            except RuntimeError as exc:
                if "Cannot find device" not in str(exc) and "No such file" not in str(exc):
                    errors.append(exc)
        _live.discard(self)
        if errors:
            raise RuntimeError(f"lab cleanup incomplete: {errors}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def sweep_stale():
    """Delete lab namespaces whose owning process no longer exists."""
    for line in _ip("netns", "list").splitlines():
        name = line.split()[0] if line.strip() else ""
        match = _NAME_RE.match(name)
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            ns = Netns(name)
            ns.stop_all()
            try:
                _ip("netns", "del", name)
            except RuntimeError:
                pass


# --- safety net: close what is still open when the interpreter goes away ---

_live = set()


def _close_all():
    for net in list(_live):
        try:
            net.close()
        except Exception:
            pass


def _on_signal(signum, _frame):
    # Turn the signal into an exception so `with` blocks and fixtures unwind
    # normally; atexit catches whatever they miss.
    raise SystemExit(128 + signum)


atexit.register(_close_all)
if threading.current_thread() is threading.main_thread():
    for _sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(_sig) == signal.SIG_DFL:
            signal.signal(_sig, _on_signal)
