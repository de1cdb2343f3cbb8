"""What a script prints reaches Kea's log file: stdout as RUNSCRIPT_STDOUT
(INFO), stderr as RUNSCRIPT_STDERR (WARN), each line naming the script and
the hook point, whether Kea waits for the script or not."""

import re

from configtools import write_script
from lab import hook

# "2026-11-21 05:28:30.423 INFO  [kea-dhcp4.runscript/21965.1401375] ID text"
_LINE = re.compile(r"^\S+ \S+ (?P<severity>[A-Z]+) +\[(?P<logger>[^/\]]+)/[^\]]*\] (?P<id>\S+) (?P<text>.*)$")


def _records(server, message_id):
    found = []
    for line in server.log_lines(rf"\] {message_id} "):
        match = _LINE.match(line)
        assert match, line
        found.append(match.groupdict())
    return found


def _check_output(server, scripts, hook_point, family):
    logger = f"kea-dhcp{family}.runscript"
    for script in scripts:
        server.wait_log(rf"RUNSCRIPT_STDOUT {re.escape(script)} ")
        server.wait_log(rf"RUNSCRIPT_STDERR {re.escape(script)} ")
    stdout = _records(server, "RUNSCRIPT_STDOUT")
    stderr = _records(server, "RUNSCRIPT_STDERR")
    assert sorted(r["text"] for r in stdout) == sorted(f"{s} ({hook_point}): hello" for s in scripts)
    assert sorted(r["text"] for r in stderr) == sorted(f"{s} ({hook_point}): oops" for s in scripts)
    assert {(r["severity"], r["logger"]) for r in stdout} == {("INFO", logger)}
    assert {(r["severity"], r["logger"]) for r in stderr} == {("WARN", logger)}


def test_stdout_and_stderr_are_logged_v4(lab, hook_so):
    body = 'echo hello\necho oops >&2'
    waited = write_script(f"{lab.workdir}/waited.sh", body)
    alongside = write_script(f"{lab.workdir}/alongside.sh", body)
    kea4 = lab.start_kea(lab.config4(hooks=[hook(hook_so, hooks=["pkt4_receive"], scripts=[
        {"script": waited, "wait": True}, {"script": alongside, "wait": False}])]))
    assert lab.dhcp4().discover("02:aa:00:00:00:01").type == "DHCPOFFER"
    _check_output(kea4, [waited, alongside], "pkt4_receive", 4)


def test_stdout_and_stderr_are_logged_v6(lab, hook_so):
    body = 'echo hello\necho oops >&2'
    waited = write_script(f"{lab.workdir}/waited.sh", body)
    alongside = write_script(f"{lab.workdir}/alongside.sh", body)
    kea6 = lab.start_kea(lab.config6(hooks=[hook(hook_so, hooks=["pkt6_send"], scripts=[
        {"script": waited, "wait": True}, {"script": alongside, "wait": False}])]))
    assert lab.dhcp6().solicit("02:aa:00:00:00:01").type == "ADVERTISE"
    _check_output(kea6, [waited, alongside], "pkt6_send", 6)


def test_output_lines_keep_their_order_and_are_sanitised(lab, hook_so):
    """Several lines in order; a control byte is shown as \\xHH, a last line
    without a newline is still logged."""
    script = write_script(f"{lab.workdir}/chatty.sh",
                          "echo one\necho two\nprintf 'tab\\there\\n'\nprintf 'no newline'")
    kea4 = lab.start_kea(lab.config4(hooks=[hook(hook_so, script=script, hooks=["pkt4_receive"])]))
    lab.dhcp4().discover("02:aa:00:00:00:02")
    kea4.wait_log("RUNSCRIPT_STDOUT", count=4)
    assert [r["text"] for r in _records(kea4, "RUNSCRIPT_STDOUT")] == [
        f"{script} (pkt4_receive): one", f"{script} (pkt4_receive): two",
        f"{script} (pkt4_receive): tab\\x09here", f"{script} (pkt4_receive): no newline"]
