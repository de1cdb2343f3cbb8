"""kea-runscript-status, the built tool, against a real kea-dhcp4's control socket.

Two scripts: one Kea waits for (index 0, run per event; its file name has a space, which the
tool shows as \\x20 so that the path stays one column) and a worker Kea does not wait for
(index 1). The tool's lines say which is which; a runscript-pause shows; DHCP clients served
while paused wait in the spool, and once resumed are delivered, in the counts. A Kea without
the library answers result 2: the tool says plainly that the library is not loaded there (exit
1); a socket that is missing, stale or never answers is exit 2, with the path and why. A
stand-in for Kea on a socket of the test's answers what Kea never should (not JSON, nothing, too
much, not a status) or closes at once: exit 2, one line naming the path; --json prints what came.

Nothing asserts a time: every wait is a generous deadline (lab.wait_until).
"""

import json
import os
import socket
import subprocess
import threading

import pytest
from lab import hook, scaled, wait_until
from lab.control import ok
from lab.dhcp4 import Dhcp4Client

CLIENTS = 4
MACS = [f"02:5d:00:00:00:{i:02x}" for i in range(CLIENTS)]

# The columns, as the header names them; SCRIPT is the last before an optional last error.
COLUMNS = ["IDX", "MODE", "PAUSED", "WORKER", "RUNS", "QUEUE", "SPOOL", "DELIVERED", "FAILED",
           "DROPPED", "DEAD", "OLDEST", "SCRIPT"]

# A worker ("format": "env"): an event is its hook point's line, its variables, an empty line;
# it answers 0 to each.
WORKER = """\
import sys

for line in sys.stdin.buffer:
    if line == b"\\n":
        sys.stdout.write("0\\n")
        sys.stdout.flush()
"""


@pytest.fixture(scope="session")
def status_tool(hook_so):
    """The built kea-runscript-status, beside the library."""
    tool = os.path.join(os.path.dirname(str(hook_so)), "kea-runscript-status")
    if not os.path.exists(tool):
        pytest.skip(f"{tool} not built yet (make)")
    return tool


def run_tool(tool, *args):
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=scaled(60))


def lines(tool, kea):
    """The tool's lines for `kea`, each a {column: text} (and "last-error" when there is one)."""
    result = run_tool(tool, kea.socket_path)
    assert result.returncode == 0, result
    assert result.stderr == "", result
    header, *rows = result.stdout.splitlines()
    assert header.split() == COLUMNS, header
    parsed = []
    for row in rows:
        head, _, error = row.partition("  last-error: ")
        fields = head.split()
        assert len(fields) == len(COLUMNS), row
        parsed.append({**dict(zip(COLUMNS, fields)), **({"last-error": error} if error else {})})
    return parsed


def lines_reach(tool, kea, predicate, what):
    return wait_until(lambda: (lambda ls: ls if predicate(ls) else None)(lines(tool, kea)),
                      timeout=30, what=what)


def test_lines_pause_and_counts(lab, hook_so, status_tool):
    waited = lab.script("waited script.sh", "exit 0")
    worker = lab.script("worker.py", WORKER, interpreter="/usr/bin/python3")
    parameters = {"scripts": [
        {"script": waited, "wait": True, "hooks": ["leases4_committed"]},
        {"script": worker, "wait": False, "mode": "worker", "hooks": ["leases4_committed"],
         "spool-dir": lab.workdir},
    ]}
    kea = lab.start_kea(lab.config4(log_debuglevel=0, hooks=[hook(hook_so, **parameters)]))

    first = lines(status_tool, kea)
    assert len(first) == 2, first
    sync, worker_line = first
    assert sync["IDX"] == "0" and sync["MODE"] == "exec/wait", sync
    assert sync["SCRIPT"] == waited.replace(" ", "\\x20"), sync
    # A script Kea waits for has no queue, no pause, no worker.
    for column in ("PAUSED", "WORKER", "QUEUE", "SPOOL", "DELIVERED", "DROPPED", "DEAD", "OLDEST"):
        assert sync[column] == "-", (column, sync)
    assert sync["RUNS"] == "0" and sync["FAILED"] == "0", sync
    assert worker_line["IDX"] == "1" and worker_line["MODE"] == "worker/async", worker_line
    assert worker_line["SCRIPT"] == worker, worker_line
    assert worker_line["PAUSED"] == "no", worker_line
    assert "last-error" not in sync and "last-error" not in worker_line, first

    ok(kea.channel, "runscript-pause", {"script": 1})
    assert lines(status_tool, kea)[1]["PAUSED"] == "yes"

    # Served while paused: each client's leases4_committed waits in the worker's spool; the
    # script Kea waits for ran for each.
    acks = lab.dhcp4_in_parallel(MACS, Dhcp4Client.dora, clients=CLIENTS)
    assert len(acks) == CLIENTS
    held = lines_reach(status_tool, kea, lambda ls: ls[1]["SPOOL"] == str(CLIENTS),
                       "every event in the worker's spool")
    assert held[1]["DELIVERED"] == "0" and held[1]["QUEUE"] == "0", held
    assert held[0]["RUNS"] == str(CLIENTS) and held[0]["FAILED"] == "0", held

    ok(kea.channel, "runscript-resume", {"script": worker})
    done = lines_reach(status_tool, kea, lambda ls: ls[1]["DELIVERED"] == str(CLIENTS),
                       "every event delivered to the worker")
    line = done[1]
    assert line["PAUSED"] == "no" and line["QUEUE"] == "0" and line["SPOOL"] == "0", line
    assert line["FAILED"] == "0" and line["DROPPED"] == "0" and line["DEAD"] == "0", line
    assert line["OLDEST"] == "0s", line
    # The worker's pid, that of the worker running the script.
    assert line["WORKER"].isdigit(), line
    with open(f"/proc/{line['WORKER']}/cmdline", "rb") as f:
        assert worker.encode() in f.read().split(b"\0"), line

    # --json: Kea's answer as it came.
    result = run_tool(status_tool, "--json", kea.socket_path)
    assert result.returncode == 0, result
    answer = json.loads(result.stdout)
    assert answer["result"] == 0, answer
    assert [s["script"] for s in answer["arguments"]["scripts"]] == [waited, worker], answer


def test_a_kea_without_the_library(lab, status_tool):
    kea = lab.start_kea(lab.config4(log_debuglevel=0))
    result = run_tool(status_tool, kea.socket_path)
    assert result.returncode == 1, result
    assert result.stdout == "", result
    assert result.stderr == (f"kea-runscript-status: kea-hook-runscript is not loaded in the Kea at "
                             f"{kea.socket_path} (it does not know runscript-status): "
                             f"'runscript-status' command not supported.\n"), result


def test_sockets_that_cannot_be_used(tmp_path, status_tool):
    missing = str(tmp_path / "kea4-ctrl-socket")
    result = run_tool(status_tool, missing)
    assert result.returncode == 2, result
    assert result.stdout == "", result
    assert f"cannot connect to {missing}: No such file or directory" in result.stderr, result

    # A socket Kea left behind when it died: nothing listens.
    stale = str(tmp_path / "stale")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(stale)
    result = run_tool(status_tool, stale)
    assert result.returncode == 2, result
    assert f"cannot connect to {stale}: Connection refused" in result.stderr, result

    # A Kea that never answers: the tool gives up.
    stuck = str(tmp_path / "stuck")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(stuck)
        sock.listen()
        result = run_tool(status_tool, "--timeout", "1", stuck)
    assert result.returncode == 2, result
    assert f"{stuck}: no answer within 1 s" in result.stderr, result

    result = run_tool(status_tool, "one", "two")
    assert result.returncode == 2 and result.stderr.startswith("usage: "), result


def answer_once(path, payload, requests, read_first=True):
    """A stand-in for Kea on `path`: accepts one connection, reads the request (into
    `requests`), sends `payload` and closes. Returns its thread."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen()

    def serve():
        with server:
            conn, _ = server.accept()
            with conn:
                if read_first:
                    conn.settimeout(scaled(10))
                    requests.append(conn.recv(65536))
                try:
                    conn.sendall(payload)
                except OSError:
                    pass  # the tool gave up reading: what the test checks

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("payload, exit_status, says", [
    (b"<html>", 2, "Kea's answer is not JSON: invalid JSON at offset 0"),
    (b"", 2, "closed without an answer"),
    (b"[]", 2, "not an answer from Kea"),
    (b'{"result": 0, "arguments": {"scripts": "x"}}', 2, "no list of scripts"),
    (b" " * (5 << 20), 2, "an answer larger than 4 MB"),
    (b'{"result": 1, "text": "no\\nway"}', 1, "answered with an error (result 1): no\\x0away"),
], ids=["not-json", "empty", "not-a-map", "no-scripts", "too-large", "result-1"])
def test_answers_that_are_not_status(tmp_path, status_tool, payload, exit_status, says):
    path = str(tmp_path / "kea4-ctrl-socket")
    requests = []
    thread = answer_once(path, payload, requests)
    result = run_tool(status_tool, path)
    thread.join(timeout=scaled(10))
    assert requests == [b'{"command": "runscript-status"}'], requests
    assert result.returncode == exit_status, result
    assert result.stdout == "", result
    assert result.stderr.startswith("kea-runscript-status: ") and path in result.stderr, result
    assert says in result.stderr, result
    assert result.stderr.count("\n") == 1, result


def test_json_prints_the_answer_as_it_came(tmp_path, status_tool):
    def run_json(name, payload):
        path = str(tmp_path / name)
        thread = answer_once(path, payload, [])
        result = subprocess.run([status_tool, "--json", path], capture_output=True, timeout=scaled(60))
        thread.join(timeout=scaled(10))
        return result

    payload = b'{ "arguments": { "scripts": [ ] }, "result": 0, "text": "0 scripts" }'
    result = run_json("kea4-ctrl-socket", payload)
    assert result.returncode == 0 and result.stdout == payload + b"\n", result

    # A Kea error too, on stdout as it came, and said on stderr.
    payload = b'{ "result": 2, "text": "\'runscript-status\' command not supported." }'
    result = run_json("other", payload)
    assert result.returncode == 1 and result.stdout == payload + b"\n", result
    assert b"kea-hook-runscript is not loaded" in result.stderr, result


def test_a_kea_that_closes_at_once(tmp_path, status_tool):
    """Closed before the request is read: an error to report (no SIGPIPE), exit 2."""
    path = str(tmp_path / "kea4-ctrl-socket")
    thread = answer_once(path, b"", [], read_first=False)
    result = run_tool(status_tool, path)
    thread.join(timeout=scaled(10))
    assert result.returncode == 2, result
    assert path in result.stderr and result.stderr.count("\n") == 1, result
