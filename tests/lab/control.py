"""Kea's command channels, as operators reach them: the server's unix control socket, the
kea-ctrl-agent's HTTP API (Kea up to 3.0; 3.2 drops the agent; lab.agent starts one) and, from
Kea 3.0, the server's own HTTP control socket (with_http_socket()).

Each channel has one method, answer(command, arguments): Kea's whole answer, a map with
"result", "text" and "arguments", whatever its result. The HTTP channels unwrap the list Kea
answers there with (one answer per service) to that same map, so that a test reads the same
through all of them.
"""

import http.client
import json
import socket

from .pace import scaled

# A port on the server namespace's loopback, which is the lab's own: nothing else listens there.
SERVER_HTTP_PORT = 8004


class ChannelError(RuntimeError):
    """A channel answered, but not with a Kea answer (an HTTP error, a malformed body)."""


class UnixChannel:
    """The server's unix control socket: one request, one answer, then Kea closes."""

    name = "unix socket"

    def __init__(self, path):
        self.path = path

    def answer(self, command, arguments=None, timeout=10):
        chunks = []
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(scaled(timeout))
            sock.connect(self.path)
            sock.sendall(json.dumps(_request(command, arguments)).encode())
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return json.loads(b"".join(chunks))


class HttpChannel:
    """POST / on 127.0.0.1:`port` in namespace `netns`: the agent's API when `service` names
    the server ("dhcp4"), the server's own HTTP socket (Kea 3.0+) when it is None."""

    def __init__(self, netns, port, service=None):
        self.netns = netns
        self.port = port
        self.service = service
        self.name = f"kea-ctrl-agent ({service})" if service else "Kea's HTTP control socket"

    def answer(self, command, arguments=None, timeout=10):
        request = _request(command, arguments)
        if self.service:
            request["service"] = [self.service]
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=scaled(timeout))
        try:
            with self.netns.entered():  # the socket stays in the namespace once connected
                connection.connect()
            connection.request("POST", "/", body=json.dumps(request),
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        if response.status != 200:
            raise ChannelError(f"{self.name}: HTTP {response.status} {response.reason}: {body[:500]!r}")
        answers = json.loads(body)
        # One answer per service asked for; Kea 3.0's own socket wraps its one answer alike.
        if not (isinstance(answers, list) and len(answers) == 1):
            raise ChannelError(f"{self.name}: not a list of one answer: {answers!r}")
        return answers[0]


def _request(command, arguments):
    request = {"command": command}
    if arguments is not None:
        request["arguments"] = arguments
    return request


def with_http_socket(config, port=SERVER_HTTP_PORT):
    """`config` (a KeaServer config, changed in place and returned) with an HTTP control socket
    on 127.0.0.1:`port` beside its unix one: Kea 3.0's "control-sockets" list, which
    excludes the older "control-socket" key. No authentication, as the lab's is a closed
    network; an operator's would have it (and TLS)."""
    server = next(iter(config.values()))
    server["control-sockets"] = [
        server.pop("control-socket"),
        {"socket-type": "http", "socket-address": "127.0.0.1", "socket-port": port},
    ]
    return config


def ok(channel, command, arguments=None):
    """Kea's answer to `command`, which must succeed (result 0)."""
    answer = channel.answer(command, arguments)
    if answer.get("result") != 0:
        raise ChannelError(f"{command} through {channel.name}: {answer}")
    return answer


def runscript_statistics(channel):
    """{name: newest value} of every statistic of this library, from statistic-get-all."""
    everything = ok(channel, "statistic-get-all")["arguments"]
    return {name: samples[0][0] for name, samples in everything.items() if name.startswith("runscript[")}


def runscript_status(channel):
    """runscript-status's list of scripts."""
    return ok(channel, "runscript-status")["arguments"]["scripts"]
