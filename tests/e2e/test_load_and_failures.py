"""Bad configurations are refused with a log line naming the parameter;
scripts that fail at run time are logged as what went wrong (could not be
executed / exited non-zero / killed), and Kea keeps serving in every case.
"""

import os
import re

import pytest
from lab import hook
from lab.kea import KeaError


# {case: (hook parameters, what RUNSCRIPT_LOAD_FAILED must say)}; "script"
# names a file in the lab's work directory: ok.sh is executable,
# not-executable.sh is not, nowhere.sh does not exist.
BAD_CONFIGS = {
    "no script": ({"wait": True}, "parameter 'script' is missing"),
    "wait is a string": ({"script": "ok.sh", "wait": "yes"}, "parameter 'wait' must be a boolean"),
    "script missing": ({"script": "nowhere.sh"}, "parameter 'script': .*nowhere.sh: No such file or directory"),
    "script not executable": ({"script": "not-executable.sh"}, "parameter 'script': .*not executable"),
    "unknown parameter": ({"script": "ok.sh", "wiat": True}, "unknown parameter 'wiat'"),
    "unknown hook point": ({"script": "ok.sh", "hooks": ["lease4_selekt"]},
                           "parameter 'hooks': unknown hook point 'lease4_selekt'"),
    "drop where Kea ignores it": ({"script": "ok.sh", "hooks": ["lease4_select"], "on-failure": "drop"},
                                  "parameter 'on-failure': .*drop.* at lease4_select"),
}


@pytest.mark.parametrize("parameters, message", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_kea_refuses_to_start_with_a_bad_configuration(lab, hook_so, parameters, message):
    lab.script("ok.sh", "exit 0")
    os.chmod(lab.script("not-executable.sh", "exit 0"), 0o644)
    if "script" in parameters:
        parameters = {**parameters, "script": os.path.join(lab.workdir, parameters["script"])}
    with pytest.raises(KeaError) as refused:
        lab.start_kea(lab.config4(hooks=[hook(hook_so, **parameters)]))
    lines = [line for line in refused.value.log.splitlines() if "RUNSCRIPT_LOAD_FAILED" in line]
    assert len(lines) == 1, refused.value.log[-3000:]
    assert " ERROR " in lines[0]
    assert re.search(f"RUNSCRIPT_LOAD_FAILED configuration refused: {message}", lines[0]), lines[0]
    assert "kea-dhcp4 exited with 1 at start" in str(refused.value)


def test_reload_with_a_bad_configuration_is_refused(lab, hook_so):
    """SIGHUP with a bad configuration: the reload fails, with the same log
    line. (Kea 2.2 then answers nobody until a good configuration is
    loaded: DHCP4_CONFIG_UNRECOVERABLE_ERROR, Kea's own behaviour when any
    hook library refuses a reload.) Fixing the configuration brings it back."""
    script = lab.script("ok.sh", "exit 0")
    kea = lab.start_kea(lab.config4(hooks=[hook(hook_so, script=script)]))
    kea.config["Dhcp4"]["hooks-libraries"] = [hook(hook_so, script=script, wiat=True)]
    with pytest.raises(KeaError, match="DHCP4_DYNAMIC_RECONFIGURATION_FAIL"):
        kea.reload()
    assert kea.log_lines(r"RUNSCRIPT_LOAD_FAILED configuration refused: unknown parameter 'wiat'")
    kea.config["Dhcp4"]["hooks-libraries"] = [hook(hook_so, script=script)]
    kea.reload()
    assert lab.dhcp4().dora("02:aa:bb:cc:dd:01").type == "DHCPACK"


# --- failures at run time -------------------------------------------------------

DORA_HOOKS = ("pkt4_receive", "subnet4_select", "lease4_select", "pkt4_send")


def _kea_with(lab, hook_so, script, wait=True):
    """Kea running `script` at every hook point (on-failure: "continue")."""
    return lab.start_kea(lab.config4(hooks=[hook(hook_so, script=script, wait=wait)]))


def _after_dora(lab, kea, pattern, attempts=1):
    """A DORA, which must succeed whatever the script does; then the log
    lines matching `pattern`: one per run, so two per hook point, times the
    attempts at each event."""
    assert lab.dhcp4().dora("02:aa:bb:cc:dd:01").type == "DHCPACK"
    return kea.wait_log(pattern, count=2 * len(DORA_HOOKS) * attempts)


@pytest.mark.parametrize("wait", [True, False])
def test_script_deleted_after_load(lab, hook_so, wait):
    script = lab.script("gone.sh", "exit 0")
    kea = _kea_with(lab, hook_so, script, wait)
    os.unlink(script)
    # Not waited for, each event is tried max-attempts (3) times, then set aside as a dead letter,
    # to be replayed once the script is back.
    attempts = 1 if wait else 3
    lines = _after_dora(lab, kea, r"RUNSCRIPT_EXEC_FAILED .*gone\.sh .*cannot execute: file not found", attempts)
    assert {hook_point for hook_point in DORA_HOOKS if any(f"({hook_point})" in line for line in lines)} == set(
        DORA_HOOKS)
    assert all(" ERROR " in line for line in lines)
    if not wait:
        dead = kea.wait_log(r"RUNSCRIPT_DEAD_LETTER .*gone\.sh .*\(the script could not be executed\)",
                            count=2 * len(DORA_HOOKS))
        assert {hook_point for hook_point in DORA_HOOKS if any(f"({hook_point})" in line for line in dead)} == set(
            DORA_HOOKS)
    assert not kea.log_lines(r"RUNSCRIPT_(EXIT_STATUS|KILLED_BY_SIGNAL)")
    assert lab.dhcp4().dora("02:aa:bb:cc:dd:02").type == "DHCPACK"  # and again


def test_script_with_a_bad_interpreter(lab, hook_so):
    script = lab.script("bad-interpreter.sh", "exit 0", interpreter="/nonexistent/bin/interp")
    kea = _kea_with(lab, hook_so, script)
    lines = _after_dora(lab, kea, r"RUNSCRIPT_EXEC_FAILED .*bad-interpreter\.sh")
    # execve() says ENOENT for a missing interpreter as for a missing
    # script; the hook tells them apart.
    assert all("interpreter" in line and "file not found" not in line for line in lines), lines
    assert not kea.log_lines(r"RUNSCRIPT_EXIT_STATUS")


def test_script_that_is_no_longer_executable(lab, hook_so):
    script = lab.script("chmodded.sh", "exit 0")
    kea = _kea_with(lab, hook_so, script)
    os.chmod(script, 0o644)
    lines = _after_dora(lab, kea, r"RUNSCRIPT_EXEC_FAILED .*chmodded\.sh")
    assert all("permission denied" in line for line in lines), lines


def test_script_without_a_shebang_line(lab, hook_so):
    script = os.path.join(lab.workdir, "no-shebang")
    with open(script, "w") as f:
        f.write("echo this would need a shell\n")
    os.chmod(script, 0o755)
    kea = _kea_with(lab, hook_so, script)
    lines = _after_dora(lab, kea, r"RUNSCRIPT_EXEC_FAILED .*no-shebang")
    assert all("#!" in line for line in lines), lines
    assert not kea.log_lines(r"RUNSCRIPT_STDOUT")  # nothing ran it through a shell


def test_script_exiting_non_zero(lab, hook_so):
    script = lab.script("exit3.sh", "echo to-stdout; echo to-stderr >&2; exit 3")
    kea = _kea_with(lab, hook_so, script)
    lines = _after_dora(lab, kea, r"RUNSCRIPT_EXIT_STATUS .*exit3\.sh .*status 3$")
    assert all(" WARN " in line for line in lines)
    assert not kea.log_lines(r"RUNSCRIPT_(EXEC_FAILED|KILLED_BY_SIGNAL)")
    # Its output is logged too, stdout as INFO, stderr as WARN.
    assert len(kea.log_lines(r" INFO .*RUNSCRIPT_STDOUT .*exit3\.sh .*: to-stdout$")) == 2 * len(DORA_HOOKS)
    assert len(kea.log_lines(r" WARN .*RUNSCRIPT_STDERR .*exit3\.sh .*: to-stderr$")) == 2 * len(DORA_HOOKS)


def test_script_killed_by_a_signal(lab, hook_so):
    script = lab.script("killed.sh", "kill -9 $$")
    kea = _kea_with(lab, hook_so, script)
    lines = _after_dora(lab, kea, r"RUNSCRIPT_KILLED_BY_SIGNAL .*killed\.sh .*signal 9")
    assert all(" WARN " in line for line in lines)
    assert not kea.log_lines(r"RUNSCRIPT_(EXEC_FAILED|EXIT_STATUS)")
    assert kea.is_running()
