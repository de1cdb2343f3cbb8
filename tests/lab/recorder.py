"""A hook script that records every call, and the reader for its records.

The hook gives the script no environment beyond what it builds (KEA_* and
PATH for ours, nothing at all for Debian's run_script), so the output
directory is baked into the script text and every command is called by its
absolute path.

One call = one file, written under a temporary name and renamed into place,
so a reader never sees half a record. The name is `<ns since epoch>-<pid>`
(the time fixed-width, so names sort by time). Content, NUL-separated:
argc, the arguments, then `env -0`: byte-exact, whatever the values hold.
"""

import os
import shlex
from dataclasses import dataclass, field

from .wait import wait_until

# Variables the shell running the script adds by itself.
SHELL_VARIABLES = {"PWD", "OLDPWD", "SHLVL", "_"}

_SCRIPT = """\
#!/bin/sh
# Written by tests/lab/recorder.py: records argv and the environment of this call.
out={out}
f="$out/$(/bin/date +%s%N)-$$"
{{ printf '%s\\0' "$#" "$@"; /usr/bin/env -0; }} > "$f.tmp" && /bin/mv "$f.tmp" "$f.call"
{tail}
"""


@dataclass
class Call:
    """One recorded invocation of the script."""
    hook: str       # argv[1]
    argv: list      # argv[1:]
    env: dict       # name -> value as str (undecodable bytes kept via surrogateescape)
    raw_env: dict = field(repr=False)  # name -> value as bytes, exactly as received
    time_ns: int = field(repr=False)   # when the script started
    pid: int = field(repr=False)


class Recorder:
    """Creates the script `script` (default `<directory>/recorder.sh`) and
    reads what it recorded under `<directory>/calls/`. `tail` is shell code
    run after recording (e.g. "/bin/sleep 2" or "exit 3") to make a slow or
    failing script. Kea 3.0 runs hook scripts only from one directory (its
    scripts directory, see kea.py), so the lab gives each recorder a script
    path there."""

    def __init__(self, directory, tail="exit 0", script=None):
        self.dir = os.path.join(str(directory), "calls")
        os.makedirs(self.dir, exist_ok=True)
        self.script = str(script) if script else os.path.join(str(directory), "recorder.sh")
        with open(self.script, "w") as f:
            f.write(_SCRIPT.format(out=shlex.quote(self.dir), tail=tail))
        os.chmod(self.script, 0o755)

    def calls(self, hook=None):
        """Recorded calls in start order, optionally only those for `hook`."""
        names = [n for n in os.listdir(self.dir) if n.endswith(".call")]
        names.sort(key=_time_and_pid)
        calls = [self._read(n) for n in names]
        return [c for c in calls if hook is None or c.hook == hook]

    def hooks(self):
        """argv[1] of every call, in order."""
        return [c.hook for c in self.calls()]

    def wait_for(self, hook=None, count=1, timeout=10):
        """Wait until at least `count` calls (for `hook`, if given) were recorded; return them."""
        def enough():
            calls = self.calls(hook)
            return calls if len(calls) >= count else None
        return wait_until(enough, timeout=timeout, what=f"{count} call(s) of {hook or 'any hook'} in {self.dir}")

    def wait_for_each(self, hook, variable, values, timeout=10):
        """Wait until `hook` was called with `variable` equal to each of
        `values`; return {value: the latest such Call}."""
        def by_value():
            seen = {c.env.get(variable): c for c in self.calls(hook)}
            return seen if set(values) <= seen.keys() else None
        return wait_until(by_value, timeout=timeout, what=f"{hook} with {variable} in {sorted(values)}")

    def clear(self):
        """Forget everything recorded so far."""
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))

    def _read(self, name):
        with open(os.path.join(self.dir, name), "rb") as f:
            fields = f.read().split(b"\0")
        argc = int(fields[0])
        argv = [a.decode(errors="surrogateescape") for a in fields[1:1 + argc]]
        raw_env = {}
        for entry in fields[1 + argc:-1]:  # the last field is what follows the final NUL
            key, _, value = entry.partition(b"=")
            key = key.decode(errors="surrogateescape")
            if key not in SHELL_VARIABLES:
                raw_env[key] = value
        time_ns, pid = _time_and_pid(name)
        return Call(hook=argv[0] if argv else "", argv=argv,
                    env={k: v.decode(errors="surrogateescape") for k, v in raw_env.items()},
                    raw_env=raw_env, time_ns=time_ns, pid=pid)


def matching(calls, hook=None, **env):
    """The calls (at `hook`, if given) whose variables have the given
    values, e.g. matching(calls, "pkt4_receive", KEA_QUERY4_TYPE="DHCPACK")."""
    return [c for c in calls if (hook is None or c.hook == hook)
            and all(c.env.get(name) == value for name, value in env.items())]


def one(calls, hook=None, **env):
    """The single call that matching() finds; AssertionError (saying what
    was found) if there is none or more than one."""
    found = matching(calls, hook, **env)
    assert len(found) == 1, f"expected one {hook or 'call'} with {env}, got {len(found)}: {found}"
    return found[0]


def _time_and_pid(name):
    """`<time_ns>-<pid>.call` -> (time_ns, pid)."""
    time_ns, pid = name[:-len(".call")].split("-")
    return int(time_ns), int(pid)
