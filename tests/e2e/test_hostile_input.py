"""Client-supplied bytes are data, never code: hostnames (option 12) and
vendor classes (option 60) built to break a shell reach the script byte for
byte, nothing in them is ever executed, and Kea keeps serving. What a script
prints is logged escaped, one log line per output line.
"""

import re

import pytest
import reference
from lab import hook, matching

# {name: payload}; "{marker}" / "{victim}" become paths in the test's directory.
PAYLOADS = {
    "command substitution": b"$(touch {marker})",
    "backticks": b"`touch {marker}`",
    "command separator": b"x; rm -rf {victim}; touch {marker}",
    "quotes": b"it's a \"quoted\" 'name'",
    "newlines": b"line1\nKEA_INJECTED=1\nline3",
    "not UTF-8": b"\xff\xfe\x80 bytes",
    "longest option": b"$(touch {marker}) ",  # padded to 255 bytes, the most an option holds
}


def _payloads(tmp_path):
    marker, victim = tmp_path / "PWNED", tmp_path / "victim"
    victim.mkdir()
    made = {}
    for name, template in PAYLOADS.items():
        value = template.replace(b"{marker}", bytes(marker)).replace(b"{victim}", bytes(victim))
        if name == "longest option":
            value = value.ljust(255, b"x")
        made[name] = value
    return made, marker, victim


def kea_lease_hostname(hostname):
    """What Kea 2.2 itself makes of option 12 for the lease (so for
    KEA_LEASE4_HOSTNAME): a name with a label longer than 63 bytes is
    dropped; of the others, with the default hostname-char-set, only
    [A-Za-z0-9.-] is kept, lower-cased. The lease's hostname is thus
    harmless; the raw one is KEA_QUERY4_HOSTNAME."""
    if any(len(label) > 63 for label in hostname.split(b".")):
        return b""
    return re.sub(rb"[^a-z0-9.-]", b"", hostname.lower())


def test_hostile_hostname_and_vendor_class_reach_the_script_byte_exact(lab, hook_so, tmp_path):
    payloads, marker, victim = _payloads(tmp_path)
    assert len(payloads["longest option"]) == 255
    rec = lab.recorder()
    kea = lab.start_kea(lab.config4(hooks=[hook(hook_so, script=rec.script, wait=True)]))
    client = lab.dhcp4()

    for number, (name, value) in enumerate(payloads.items()):
        mac = f"02:00:00:00:66:{number:02x}"
        ack = client.dora(mac, hostname=value, vendor_class=value)
        calls = matching(rec.calls(), KEA_QUERY4_HWADDR=mac)
        assert {c.hook for c in calls} == {"pkt4_receive", "subnet4_select", "lease4_select", "pkt4_send"}, name
        for call in calls:
            assert call.raw_env["KEA_QUERY4_HOSTNAME"] == value, (name, call.hook)
            assert call.raw_env["KEA_QUERY4_OPTION60"] == value, (name, call.hook)
            assert "KEA_INJECTED" not in call.raw_env, name
            assert not reference.environment_errors(call.env), (name, call.hook)
        leased = matching(calls, "lease4_select", KEA_FAKE_ALLOCATION="0")[0].raw_env
        assert leased["KEA_LEASE4_HOSTNAME"] == kea_lease_hostname(value), name
        assert leased["KEA_LEASE4_ADDRESS"].decode() == ack.yiaddr

    assert not marker.exists(), "a client's hostname or vendor class was executed"
    assert victim.is_dir()
    assert not kea.log_lines(r"RUNSCRIPT_(EXEC_FAILED|EXIT_STATUS|KILLED|CALLOUT_ERROR)")
    assert client.dora("02:aa:bb:cc:dd:01").type == "DHCPACK"  # and Kea goes on serving


def test_hostile_relay_identifiers_arrive_hex_encoded(lab, hook_so, tmp_path):
    """Option 82 sub-options are passed as 0x-hex: shell text in them is inert."""
    payloads, marker, _ = _payloads(tmp_path)
    rec = lab.recorder()
    lab.start_kea(lab.config4(hooks=[hook(hook_so, script=rec.script, wait=True, hooks=["pkt4_receive"])]))
    circuit, remote = payloads["command substitution"], payloads["not UTF-8"]
    offer = lab.dhcp4().relayed_discover("02:aa:bb:cc:dd:ee", circuit_id=circuit, remote_id=remote)
    assert offer and offer.type == "DHCPOFFER"
    (call,) = rec.wait_for("pkt4_receive")
    assert call.env["KEA_QUERY4_RAI_CIRCUIT_ID"] == reference.hex0x(circuit)
    assert call.env["KEA_QUERY4_RAI_REMOTE_ID"] == reference.hex0x(remote)
    assert not marker.exists()


@pytest.mark.parametrize("wait", [True, False])
def test_script_output_is_logged_escaped_one_line_per_line(lab, hook_so, wait):
    script = lab.script("talk.sh", r"""
printf 'evil\033[31mred\rreturn\ttab\001\377\303\251 back\\slash\n'
printf 'warning\033]0;title\007\n' >&2
""")
    kea = lab.start_kea(lab.config4(hooks=[hook(hook_so, script=script, wait=wait, hooks=["pkt4_receive"])]))
    lab.dhcp4().discover("02:aa:bb:cc:dd:01")
    (stdout,) = kea.wait_log(r"RUNSCRIPT_STDOUT")
    (stderr,) = kea.wait_log(r"RUNSCRIPT_STDERR")
    # Every control byte, every non-ASCII byte and the backslash itself as
    # \xHH: the log line cannot fake another line or drive a terminal.
    assert stdout.endswith(r"(pkt4_receive): evil\x1b[31mred\x0dreturn\x09tab\x01\xff\xc3\xa9 back\x5cslash")
    assert " INFO " in stdout and " WARN " in stderr
    assert stderr.endswith(r"(pkt4_receive): warning\x1b]0;title\x07")
    with open(kea.log_path, "rb") as f:
        raw = f.read()
    assert not re.search(rb"[\x00-\x08\x0b-\x1f\x7f-\xff]", raw), "a raw control or non-ASCII byte in Kea's log"
    assert kea.is_running()
