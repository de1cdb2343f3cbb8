"""kea-dhcp4 / kea-dhcp6 run inside the server namespace from a generated config.

Everything Kea writes (config, leases, log, pid and lock files, control
socket) lives in the lab's work directory, so runs never see each other or
the host's Kea. Configs are plain dicts: config4()/config6() build the lab
defaults, the caller adjusts them, KeaServer starts from the result.

Kea 2.4.2, 2.6.3 and 3.0 on accept those files only in directories of their
own (CVE-2025-32801): hook libraries in their hooks directory, logs, leases
and control sockets in /var/log/kea, /var/lib/kea and /var/run/kea, and (3.0,
enforced by ISC's run_script and by ours) hook scripts in /usr/share/kea/
scripts, unless the environment names others. KeaServer names the work
directory for all but the control socket (in `<workdir>/control/`) and the
libraries, which it reaches through symlinks in `<workdir>/hooks/`
(kea_directories(), in_hooks_dir()); older Kea ignores those variables and
loads the same files.
"""

import copy
import json
import os
import re
import signal
import subprocess
import time

from . import apparmor
from .control import HttpChannel, UnixChannel
from .netns import RELAY_V4, SERVER_IFACE, stop_process
from .pace import scaled
from .wait import wait_until

KEA_BIN = {4: "/usr/sbin/kea-dhcp4", 6: "/usr/sbin/kea-dhcp6"}
DEBIAN_HOOKS_DIR = "/usr/lib/x86_64-linux-gnu/kea/hooks"

SUBNET4 = "192.0.2.0/24"
POOL4 = "192.0.2.10 - 192.0.2.100"
RELAYED_SUBNET4 = "10.0.0.0/8"
RELAYED_POOL4 = "10.0.0.1 - 10.0.255.254"
SUBNET6 = "2001:db8:1::/64"
POOL6 = "2001:db8:1::100 - 2001:db8:1::ffff"
PD_PREFIX6, PD_PREFIX_LEN6, PD_DELEGATED_LEN6 = "2001:db8:8000::", 48, 56


def release():
    """The installed Kea's release, as a tuple of ints: (2, 6, 3). Some of what Kea does or prints
    changed between releases, and the tests say so where it matters."""
    if not _RELEASE:
        out = subprocess.run([KEA_BIN[4], "-v"], capture_output=True, text=True, check=True).stdout
        _RELEASE.append(tuple(int(part) for part in re.match(r"\s*(\d+)\.(\d+)\.(\d+)", out).groups()))
    return _RELEASE[0]


_RELEASE = []


def hook(library, **parameters):
    """One `hooks-libraries` entry."""
    entry = {"library": str(library)}
    if parameters:
        entry["parameters"] = parameters
    return entry


def _common(version, workdir, *, valid_lifetime, persist, multi_threading, hooks,
            reclaim, log_debuglevel):
    name = f"kea-dhcp{version}"
    cfg = {
        "interfaces-config": {"interfaces": [SERVER_IFACE]},
        "lease-database": {
            "type": "memfile",
            "name": os.path.join(workdir, f"leases{version}.csv"),
            "persist": persist,
            "lfc-interval": 0,
        },
        # A directory of its own, which KeaServer gives the mode Kea 2.6.3 insists on.
        "control-socket": {"socket-type": "unix",
                           "socket-name": os.path.join(workdir, "control", f"kea{version}.sock")},
        "valid-lifetime": valid_lifetime,
        "decline-probation-period": 3,
        # Reclaim every second so that lease*_expire / lease*_recover fire
        # within a few seconds of a lease running out. A non-zero flush
        # timer makes Kea keep reclaimed leases (remove_lease = false in
        # lease*_expire), as in the reference recordings.
        "expired-leases-processing": {
            "reclaim-timer-wait-time": 1,
            "flush-reclaimed-timer-wait-time": 5,
            "hold-reclaimed-time": 60,
            "max-reclaim-time": 0,
            "max-reclaim-leases": 0,
            **(reclaim or {}),
        },
        "multi-threading": (
            {"enable-multi-threading": True, "thread-pool-size": 4, "packet-queue-size": 64}
            if multi_threading else {"enable-multi-threading": False}
        ),
        "hooks-libraries": list(hooks or []),
        "loggers": [{
            "name": name,
            "output_options": [{"output": os.path.join(workdir, f"{name}.log"), "flush": True}],
            "severity": "DEBUG" if log_debuglevel else "INFO",
            "debuglevel": log_debuglevel,
        }],
    }
    return cfg


def config4(workdir, *, valid_lifetime=20, persist=False, multi_threading=False, hooks=(),
            reclaim=None, log_debuglevel=99, **extra):
    """A {"Dhcp4": ...} dict: subnet 192.0.2.0/24 on veth-s (id 1) and
    10.0.0.0/8 (id 2) selected for packets relayed through RELAY_V4.
    `reclaim` overrides expired-leases-processing keys; `extra` adds or
    replaces top-level Dhcp4 keys."""
    cfg = _common(4, workdir, valid_lifetime=valid_lifetime, persist=persist,
                  multi_threading=multi_threading, hooks=hooks, reclaim=reclaim,
                  log_debuglevel=log_debuglevel)
    # Raw sockets: the clients have no address yet, their DISCOVERs arrive
    # as broadcasts and the replies must go to a MAC, not an IP.
    cfg["interfaces-config"]["dhcp-socket-type"] = "raw"
    cfg["subnet4"] = [
        {"id": 1, "subnet": SUBNET4, "interface": SERVER_IFACE, "pools": [{"pool": POOL4}]},
        {"id": 2, "subnet": RELAYED_SUBNET4, "pools": [{"pool": RELAYED_POOL4}],
         "relay": {"ip-addresses": [RELAY_V4]}},
    ]
    cfg.update(extra)
    return {"Dhcp4": cfg}


def config6(workdir, *, valid_lifetime=20, persist=False, multi_threading=False, hooks=(),
            reclaim=None, log_debuglevel=99, **extra):
    """A {"Dhcp6": ...} dict: subnet 2001:db8:1::/64 on veth-s (id 1) with
    an address pool and a /48 prefix pool delegating /56s."""
    cfg = _common(6, workdir, valid_lifetime=valid_lifetime, persist=persist,
                  multi_threading=multi_threading, hooks=hooks, reclaim=reclaim,
                  log_debuglevel=log_debuglevel)
    cfg["preferred-lifetime"] = max(1, valid_lifetime * 3 // 4)
    # An LL server-id is derived from the veth MAC and is never written to
    # disk, so every run starts clean.
    cfg["server-id"] = {"type": "LL", "persist": False}
    cfg["subnet6"] = [{
        "id": 1, "subnet": SUBNET6, "interface": SERVER_IFACE,
        "pools": [{"pool": POOL6}],
        "pd-pools": [{"prefix": PD_PREFIX6, "prefix-len": PD_PREFIX_LEN6, "delegated-len": PD_DELEGATED_LEN6}],
    }]
    cfg.update(extra)
    return {"Dhcp6": cfg}


def knows_spool_dir(library):
    """Whether the hook library at `library` has the "spool-dir" parameter (its name is in the
    binary): a library without it refuses the parameter at load. Read once per build."""
    try:
        stat = os.stat(library)
    except OSError:
        return False
    key = (str(library), stat.st_mtime_ns, stat.st_size)
    if key not in _SPOOL_DIR_KNOWN:
        with open(library, "rb") as f:
            _SPOOL_DIR_KNOWN[key] = b"spool-dir" in f.read()
    return _SPOOL_DIR_KNOWN[key]


_SPOOL_DIR_KNOWN = {}


def _waits(entry, top):
    """Whether a script entry is one Kea waits for: its own "wait" (or ISC's "sync"), else the
    top level's, else false for ISC's variables (as ISC's library) and true otherwise."""
    for scope in (entry, top):
        for key in ("wait", "sync"):
            if key in scope:
                return scope[key] is not False
    return entry.get("variables", top.get("variables")) != "isc"


def with_spool_dir(config, directory):
    """A copy of `config` in which every script of our hook library that Kea does not wait for
    and that has no "spool-dir" of its own spools under `directory` (a test's work directory)
    instead of Kea's data directory, /var/lib/kea: tests never write there, and a spool left
    by one test is never found by another. Only where the library knows the parameter, and only
    for such scripts (a waited-for one has no spool, and may refuse the key)."""
    config = copy.deepcopy(config)
    for server in config.values():
        for library in server.get("hooks-libraries", []):
            top = library.get("parameters")
            if not isinstance(top, dict) or not knows_spool_dir(library.get("library", "")):
                continue
            if "spool-dir" in top:
                continue
            if isinstance(top.get("scripts"), list):
                for entry in top["scripts"]:
                    if isinstance(entry, dict) and "spool-dir" not in entry and not _waits(entry, top):
                        entry["spool-dir"] = str(directory)
            elif "scripts" not in top and not _waits(top, {}):
                top["spool-dir"] = str(directory)
    return config


# The mode Kea 2.6.3 requires of its control socket's directory, exactly (3.0: no more than it).
CONTROL_SOCKET_DIR_MODE = 0o750


def kea_directories(workdir, hooks_dir, socket_dir):
    """The environment naming the directories Kea may use in place of its own: the hooks
    directory `hooks_dir`, the control socket's `socket_dir`, and `workdir` for the rest
    (scripts, log, leases). Kea compares a configured file's parent directory with these as
    strings, so they are exactly the directories the lab's configs and scripts use."""
    return {"KEA_HOOKS_PATH": hooks_dir, "KEA_HOOK_SCRIPTS_PATH": workdir, "KEA_LOG_FILE_DIR": workdir,
            "KEA_DHCP_DATA_DIR": workdir, "KEA_CONTROL_SOCKET_DIR": socket_dir}


def in_hooks_dir(config, hooks_dir):
    """A copy of `config` in which every hook library given by an absolute path outside
    `hooks_dir` is loaded through a symlink to it in `hooks_dir`, named as the library (with a
    number in front if two libraries of this config share a name). The library loaded is the
    same file, wherever it is; Kea only checks the path's directory."""
    config = copy.deepcopy(config)
    os.makedirs(hooks_dir, exist_ok=True)
    names = {}  # link name -> target, for this config
    for server in config.values():
        for library in server.get("hooks-libraries", []):
            target = library.get("library")
            if not isinstance(target, str) or not os.path.isabs(target) or os.path.dirname(target) == hooks_dir:
                continue
            name = os.path.basename(target)
            number = 1
            while names.get(name, target) != target:
                number += 1
                name = f"{number}-{os.path.basename(target)}"
            names[name] = target
            link = os.path.join(hooks_dir, name)
            if not (os.path.islink(link) and os.readlink(link) == target):
                os.symlink(target, link + ".new")
                os.replace(link + ".new", link)  # a reload may point a name elsewhere
            library["library"] = link
    return config


class KeaError(RuntimeError):
    """Kea did not start, or answered a command with an error. `log` holds
    what this Kea instance logged (for a start that failed: why)."""

    def __init__(self, message, log=""):
        super().__init__(message)
        self.log = log


class KeaServer:
    """A running kea-dhcp4 or kea-dhcp6 (started by start(), stopped by stop()).

    Use as a context manager or call stop(); Network.close() kills it anyway.
    `env` adds variables to Kea's own environment (which is otherwise only
    PATH and the directories of its files, see kea_directories())."""

    def __init__(self, netns, workdir, config, start_timeout=15, env=None):
        self.version = 4 if "Dhcp4" in config else 6
        self.netns = netns
        self.workdir = str(workdir)
        self.config = config
        name = f"kea-dhcp{self.version}"
        self.config_path = os.path.join(self.workdir, f"{name}.json")
        self.log_path = config[f"Dhcp{self.version}"]["loggers"][0]["output_options"][0]["output"]
        self.output_path = os.path.join(self.workdir, f"{name}.out")
        self.socket_path, self.http_port = _control_sockets(config[f"Dhcp{self.version}"])
        self.hooks_dir = os.path.join(self.workdir, "hooks")
        socket_dir = os.path.dirname(self.socket_path)
        os.makedirs(socket_dir, exist_ok=True)
        os.chmod(socket_dir, CONTROL_SOCKET_DIR_MODE)
        owner = os.stat(self.workdir)  # whoever Kea runs as owns the work directory (root, or _kea)
        os.chown(socket_dir, owner.st_uid, owner.st_gid)
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                    "KEA_PIDFILE_DIR": self.workdir, "KEA_LOCKFILE_DIR": self.workdir,
                    **kea_directories(self.workdir, self.hooks_dir, socket_dir), **(env or {})}
        self._start(start_timeout)

    def _write_config(self):
        with open(self.config_path, "w") as f:
            json.dump(in_hooks_dir(with_spool_dir(self.config, self.workdir), self.hooks_dir), f, indent=2)

    def _start(self, timeout):
        self._write_config()
        # A restarted server (same work directory) appends to the same log
        # and output files: this instance's part starts here.
        self._log_offset = _size(self.log_path)
        self._output_offset = _size(self.output_path)
        with open(self.output_path, "ab") as out:
            self.proc = self.netns.popen([apparmor.program(KEA_BIN[self.version]), "-c", self.config_path],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         env=self.env, cwd=self.workdir)

        def started():
            if self.proc.poll() is not None:
                raise KeaError(f"kea-dhcp{self.version} exited with {self.proc.returncode} at start:\n"
                               f"{self.output()[-3000:]}\n{self.log()[-3000:]}", log=self.log())
            return f"DHCP{self.version}_STARTED" in self.log()

        # DHCPx_STARTED is logged after the configuration has been applied
        # and the sockets opened, right before the packet loop starts.
        wait_until(started, timeout=timeout, what=f"DHCP{self.version}_STARTED in {self.log_path}")
        # A socket that failed to open is only a warning to Kea, but it
        # would make every test on that interface time out.
        failed = self.log_lines("OPEN_SOCKET_FAIL")
        if failed:
            raise KeaError(f"kea-dhcp{self.version} could not open its sockets: {failed}")

    def log(self):
        """What this Kea instance logged so far, as text."""
        return _read_from(self.log_path, self._log_offset)

    def output(self):
        """This Kea instance's stdout+stderr, including whatever scripts it
        spawned printed."""
        return _read_from(self.output_path, self._output_offset)

    def log_lines(self, pattern):
        """Log lines matching the regular expression `pattern`."""
        return [line for line in self.log().splitlines() if re.search(pattern, line)]

    def log_position(self, pattern, last=False):
        """Line number of the first (or the last) log line matching `pattern`,
        None if there is none. Kea writes its log in the order things happen,
        whichever thread logs them, so comparing positions says what came
        first without trusting a clock."""
        numbers = [n for n, line in enumerate(self.log().splitlines()) if re.search(pattern, line)]
        return (numbers[-1] if last else numbers[0]) if numbers else None

    def wait_log(self, pattern, count=1, timeout=10):
        """Wait until at least `count` log lines match `pattern`; return them."""
        def enough():
            lines = self.log_lines(pattern)
            return lines if len(lines) >= count else None
        return wait_until(enough, timeout=timeout, what=f"{count}x /{pattern}/ in {self.log_path}")

    @property
    def channel(self):
        """Its unix control socket (lab.control.UnixChannel)."""
        return UnixChannel(self.socket_path)

    @property
    def http_channel(self):
        """Kea 3.0's own HTTP control socket (lab.control.HttpChannel), when its config has one
        (lab.control.with_http_socket()); else None."""
        return HttpChannel(self.netns, self.http_port) if self.http_port else None

    def command(self, name, arguments=None, timeout=10):
        """Send a control command (e.g. "leases-reclaim", "statistic-get-all")
        over the unix socket; return the response's "arguments" (or text).
        `timeout` bounds each socket operation (scaled)."""
        response = self.channel.answer(name, arguments, timeout=timeout)
        if response.get("result") not in (0, 3):  # 3 = empty, e.g. nothing to reclaim
            raise KeaError(f"{name}: {response}")
        return response.get("arguments", response.get("text"))

    def is_running(self):
        return self.proc.poll() is None

    def reload(self, timeout=10):
        """Rewrite the config file from self.config and SIGHUP Kea, which
        re-reads it (and unloads/reloads its hook libraries)."""
        self._write_config()
        done = rf"DHCP{self.version}_DYNAMIC_RECONFIGURATION_(SUCCESS|FAIL)"
        before = len(self.log_lines(done))
        os.kill(self.proc.pid, signal.SIGHUP)
        last = self.wait_log(done, count=before + 1, timeout=timeout)[-1]
        if "_FAIL" in last:
            raise KeaError(last)

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL after `timeout`s (scaled). Returns Kea's exit status."""
        return stop_process(self.proc, timeout=timeout)

    def stop_timed(self, timeout=30):
        """SIGTERM, as a service manager stops Kea; return the seconds until Kea had exited
        (measured from the signal to its exit, which this process reaps). SIGKILL, and an
        AssertionError, if it is still there after `timeout` seconds (scaled)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"kea-dhcp{self.version} still running {scaled(timeout):.0f} s after SIGTERM")
        return time.monotonic() - started

    def kill(self):
        """SIGKILL Kea at once (a crash: nothing of its shutdown runs) and reap it. What it
        spawned is left running, as after a real crash."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def resources(self):
        """What Kea holds now: {"fds": sorted targets of /proc/<pid>/fd, "threads": how many,
        "children": sorted pids of its children (any thread's)}, to compare over time."""
        return resources(self.proc.pid)

    close = stop  # every object a Lab owns closes the same way

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _control_sockets(server):
    """(unix socket path, HTTP port or None) of a server config: its "control-socket", or the
    "control-sockets" list of Kea 3.0."""
    sockets = server.get("control-sockets") or [server["control-socket"]]
    unix = [s["socket-name"] for s in sockets if s.get("socket-type") == "unix"]
    http = [s.get("socket-port", 8000) for s in sockets if s.get("socket-type") in ("http", "https")]
    return unix[0], (http[0] if http else None)


def resources(pid):
    """{"fds": sorted fd targets, "threads": thread count, "children": sorted child pids} of `pid`."""
    fds, children = [], []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            fds.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:
            pass  # closed meanwhile
    tasks = os.listdir(f"/proc/{pid}/task")
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                children += [int(kid) for kid in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass  # the thread is gone
    return {"fds": sorted(fds), "threads": len(tasks), "children": sorted(children)}


def _size(path):
    return os.path.getsize(path) if os.path.exists(path) else 0


def _read_from(path, offset):
    """The text of `path` from byte `offset` on ("" if there is no file)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
