"""Running the examples of examples/ on the lab's real Kea, as an operator would install them.

Each example ships a Kea configuration fragment (kea-dhcp4.json / kea-dhcp6.json: keys of the
"Dhcp4" / "Dhcp6" map) written for a real server: the library in Debian's hooks directory, the
script in /etc/kea, the clients on eth1. example_config() turns it into a lab configuration by
changing only those paths and names, so what is tested is what the README tells people to paste.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
INSTALLED_LIBRARY = "/usr/lib/x86_64-linux-gnu/kea/hooks/kea-hook-runscript.so"
SERVER_IFACE = "veth-s"


def fragment(example, family):
    """The example's configuration fragment for kea-dhcp<family>, as a dict."""
    with open(EXAMPLES / example / f"kea-dhcp{family}.json") as f:
        return json.load(f)


def install_scripts(lab, example):
    """Install the example's files, keeping their modes, as an operator would: its scripts (the
    executable files) in the lab's scripts directory, which stands for Kea's (Kea 3.0 lets a hook
    library run scripts from that one directory only), the others in <workdir>/etc-kea/ (its
    /etc/kea). Return {file name: installed path}."""
    etc = Path(lab.workdir) / "etc-kea"
    etc.mkdir(exist_ok=True)
    installed = {}
    for path in (EXAMPLES / example).iterdir():
        if path.is_file():
            target = Path(lab.scripts_dir if os.access(path, os.X_OK) else etc) / path.name
            shutil.copy2(path, target)
            installed[path.name] = target
    return installed


def _substitute(value, mapping):
    if isinstance(value, dict):
        return {k: _substitute(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, mapping) for v in value]
    if isinstance(value, str):
        return mapping.get(value, value)
    return value


def example_config(lab, hook_so, example, family=4, env=None, parameters=None, **config_kwargs):
    """The lab's kea-dhcp<family> configuration with the example's fragment merged in.

    The fragment's library path becomes `hook_so`, /etc/kea/<file> the installed copy of the
    example's file (install_scripts()), eth1 the lab's server interface; `env` is merged into (and `parameters`
    over) the parameters of the example's hooks-libraries entry. Top-level keys of the
    fragment (option-data, subnet4, ...) replace the lab's."""
    mapping = {INSTALLED_LIBRARY: str(hook_so), "eth1": SERVER_IFACE}
    for name, path in install_scripts(lab, example).items():
        mapping[f"/etc/kea/{name}"] = str(path)
    frag = _substitute(fragment(example, family), mapping)
    (entry,) = frag["hooks-libraries"]
    entry["parameters"].setdefault("env", {}).update(env or {})
    entry["parameters"].update(parameters or {})
    make = lab.config4 if family == 4 else lab.config6
    config = make(**config_kwargs)
    config[f"Dhcp{family}"].update(frag)
    return config


def ip(netns, *args):
    """`ip ARGS` in the namespace; its stdout."""
    return netns.run(["ip", *args]).stdout


def nft(netns, *args, check=True):
    return netns.run(["nft", *args], check=check)


def shell_scripts():
    """Every shell script of the examples."""
    return sorted(EXAMPLES.glob("*/*.sh"))


def shellcheck(path):
    """shellcheck's complaints about `path` ("" if clean), or None if shellcheck is missing."""
    if not shutil.which("shellcheck"):
        return None
    result = subprocess.run(["shellcheck", "-s", "sh", str(path)], capture_output=True, text=True)
    return result.stdout if result.returncode else ""


def wait_file_lines(path, predicate, count=1):
    """A predicate for wait_until(): the JSON lines of `path` for which `predicate` holds, once
    there are at least `count` of them."""
    def check():
        if not os.path.exists(path):
            return None
        with open(path) as f:
            records = [json.loads(line) for line in f if line.strip()]
        found = [r for r in records if predicate(r)]
        return found if len(found) >= count else None
    return check
