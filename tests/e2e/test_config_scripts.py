"""Several scripts, "hooks", "load"/"unload" and "env" end to end."""

import time

import pytest

from lab import hook, slack
from lab.kea import KeaError, release

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MAC = "02:ab:00:00:00:01"


def test_each_script_sees_exactly_its_own_hooks_in_order(lab, hook_so):
    first = lab.recorder("first")
    second = lab.recorder("second")
    kea4 = lab.start_kea(lab.config4(hooks=[hook(hook_so, wait=True, scripts=[
        {"script": first.script, "hooks": ["pkt4_receive", "pkt4_send"]},
        {"script": second.script, "hooks": ["pkt4_receive", "lease4_select", "leases4_committed"]}])]))
    ack = lab.dhcp4().dora(MAC)

    def seen(rec):
        return [(c.hook, c.env.get("KEA_QUERY4_TYPE"), c.env.get("KEA_RESPONSE4_TYPE")) for c in rec.calls()]

    assert seen(first) == [("pkt4_receive", "DHCPDISCOVER", None), ("pkt4_send", "DHCPDISCOVER", "DHCPOFFER"),
                           ("pkt4_receive", "DHCPREQUEST", None), ("pkt4_send", "DHCPREQUEST", "DHCPACK")]
    # Kea passes leases4_committed the response too from 2.7.7 on (and the hook hands it on).
    committed_response = "DHCPACK" if release() >= (2, 7, 7) else None
    assert seen(second) == [("pkt4_receive", "DHCPDISCOVER", None), ("lease4_select", "DHCPDISCOVER", None),
                            ("pkt4_receive", "DHCPREQUEST", None), ("lease4_select", "DHCPREQUEST", None),
                            ("leases4_committed", "DHCPREQUEST", committed_response)]
    assert second.calls("leases4_committed")[0].env["KEA_LEASES4_AT0_ADDRESS"] == ack.yiaddr

    # Across both: Kea's order of hook points, and list order at a shared one.
    merged = sorted([(c.time_ns, "first", c.hook) for c in first.calls()] +
                    [(c.time_ns, "second", c.hook) for c in second.calls()])
    assert [(who, hook_point) for _, who, hook_point in merged] == [
        ("first", "pkt4_receive"), ("second", "pkt4_receive"), ("second", "lease4_select"), ("first", "pkt4_send"),
        ("first", "pkt4_receive"), ("second", "pkt4_receive"), ("second", "lease4_select"),
        ("second", "leases4_committed"), ("first", "pkt4_send")]
    assert kea4.is_running()


def test_load_and_unload_are_called_once_per_life(lab, hook_so):
    rec = lab.recorder()
    others = lab.recorder("others")
    kea4 = lab.start_kea(lab.config4(hooks=[hook(hook_so, scripts=[
        {"script": rec.script, "hooks": ["load", "unload"], "env": {"SITE": "lab one"}},
        {"script": others.script, "hooks": ["pkt4_receive"]}])]))
    assert rec.hooks() == ["load"]  # wait=true: done before Kea starts serving
    (load,) = rec.calls()
    assert load.argv == ["load"]
    assert load.env == {"PATH": DEFAULT_PATH, "SITE": "lab one"}  # PATH and its env, nothing else

    lab.dhcp4().discover(MAC)
    assert rec.hooks() == ["load"] and others.hooks() == ["pkt4_receive"]  # load/unload are not packets

    kea4.reload()
    assert rec.hooks() == ["load", "unload", "load"]
    assert kea4.wait_log("RUNSCRIPT_UNLOADED") and len(kea4.log_lines("RUNSCRIPT_LOADED")) == 2

    assert kea4.stop() == 0
    assert rec.hooks() == ["load", "unload", "load", "unload"]
    time.sleep(slack())  # nothing comes late either
    assert rec.hooks() == ["load", "unload", "load", "unload"]
    assert [c.env for c in rec.calls()] == [{"PATH": DEFAULT_PATH, "SITE": "lab one"}] * 4
    assert len(kea4.log_lines("RUNSCRIPT_UNLOADED")) == 2
    assert others.hooks() == ["pkt4_receive"]


def test_load_and_unload_v6(lab, hook_so):
    rec = lab.recorder()
    kea6 = lab.start_kea(lab.config6(hooks=[hook(hook_so, script=rec.script, hooks=["load", "unload"])]))
    kea6.reload()
    assert kea6.stop() == 0
    assert rec.hooks() == ["load", "unload", "load", "unload"]


def test_env_reaches_the_script(lab, hook_so):
    rec = lab.recorder()
    lab.start_kea(lab.config4(hooks=[hook(hook_so, script=rec.script, hooks=["lease4_select"],
                                          env={"SITE": "lab one", "EMPTY": "", "QUOTES": "it's \"$HOME\""})]))
    ack = lab.dhcp4().dora(MAC)
    offered, requested = rec.wait_for("lease4_select", count=2)
    for call in (offered, requested):
        env = call.env
        assert env["SITE"] == "lab one" and env["EMPTY"] == "" and env["QUOTES"] == "it's \"$HOME\""
        assert env["PATH"] == DEFAULT_PATH
        assert env["KEA_LEASE4_ADDRESS"] == ack.yiaddr and env["KEA_LEASE4_HWADDR"] == MAC
        assert {name for name in env if not name.startswith("KEA_")} == {"PATH", "SITE", "EMPTY", "QUOTES"}


@pytest.mark.parametrize("params, where", [
    ({"env": {"KEA_SITE": "x"}}, "'env'"),
    ({"scripts": [{}, {"env": {"SITE": "ok", "KEA_LEASE4_ADDRESS": "1.2.3.4"}}]}, "'scripts[1].env'"),
])
def test_env_names_starting_with_kea_are_refused(lab, hook_so, params, where):
    rec = lab.recorder()
    if "scripts" in params:
        params = {"scripts": [dict(entry, script=rec.script) for entry in params["scripts"]]}
    else:
        params = dict(params, script=rec.script)
    with pytest.raises(KeaError):
        lab.start_kea(lab.config4(hooks=[hook(hook_so, **params)]), timeout=10)
    with open(f"{lab.workdir}/kea-dhcp4.log") as f:
        failed = [line for line in f if "RUNSCRIPT_LOAD_FAILED" in line]
    assert len(failed) == 1, failed
    name = next(iter(params.get("env") or params["scripts"][1]["env"].keys() - {"SITE"}))
    assert " ERROR " in failed[0]
    assert (f"RUNSCRIPT_LOAD_FAILED configuration refused: parameter {where}: '{name}' is reserved: "
            f"names starting with KEA_ carry the DHCP data") in failed[0]
    assert rec.calls() == []
