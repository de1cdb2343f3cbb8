"""kea-ctrl-agent, the HTTP front of Kea's command channel up to Kea 3.0 (deprecated there, gone
in 3.2), run by the lab for a KeaServer with a config of its own."""

import json
import os
import re
import subprocess

from .control import HttpChannel
from .kea import CONTROL_SOCKET_DIR_MODE, KeaError, _read_from, _size, kea_directories
from .netns import stop_process
from .wait import wait_until

AGENT_BIN = "/usr/sbin/kea-ctrl-agent"
# A port on the server namespace's loopback, which is the lab's own: nothing else listens there.
AGENT_PORT = 8010


def available():
    """Whether this Kea has kea-ctrl-agent (Debian's package of it installed; 3.2 has none)."""
    return os.access(AGENT_BIN, os.X_OK)


class ControlAgent:
    """A kea-ctrl-agent in the server namespace, on 127.0.0.1:`port`, forwarding to `kea`'s
    unix control socket; its config and log in kea's work directory. Stop it with close()."""

    def __init__(self, kea, port=AGENT_PORT, start_timeout=15):
        self.kea = kea
        self.port = port
        self.service = f"dhcp{kea.version}"
        workdir = kea.workdir
        self.config_path = os.path.join(workdir, "kea-ctrl-agent.json")
        self.log_path = os.path.join(workdir, "kea-ctrl-agent.log")
        config = {"Control-agent": {
            "http-host": "127.0.0.1", "http-port": port,
            "control-sockets": {self.service: {"socket-type": "unix", "socket-name": kea.socket_path}},
            "loggers": [{"name": "kea-ctrl-agent", "severity": "INFO",
                         "output_options": [{"output": self.log_path, "flush": True}]}],
        }}
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=2)
        socket_dir = os.path.dirname(kea.socket_path)
        assert os.stat(socket_dir).st_mode & 0o777 == CONTROL_SOCKET_DIR_MODE
        # The agent checks the socket's directory as Kea does (2.6.3+), and writes a pid file.
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "KEA_PIDFILE_DIR": workdir,
               "KEA_LOCKFILE_DIR": workdir, **kea_directories(workdir, kea.hooks_dir, socket_dir)}
        self._log_offset = _size(self.log_path)
        self.proc = kea.netns.popen([AGENT_BIN, "-c", self.config_path], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env,
                                    cwd=workdir)

        def started():
            if self.proc.poll() is not None:
                raise KeaError(f"kea-ctrl-agent exited with {self.proc.returncode} at start:\n"
                               f"{self.log()[-3000:]}", log=self.log())
            return re.search(r"CTRL_AGENT_HTTP_SERVICE_STARTED", self.log())

        wait_until(started, timeout=start_timeout, what=f"CTRL_AGENT_HTTP_SERVICE_STARTED in {self.log_path}")

    def channel(self):
        return HttpChannel(self.kea.netns, self.port, service=self.service)

    def log(self):
        return _read_from(self.log_path, self._log_offset)

    def close(self):
        return stop_process(self.proc)
