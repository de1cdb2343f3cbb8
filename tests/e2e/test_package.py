"""The Debian package: built from the tree by packaging/build-deb.sh (what `make deb` runs),
installed with dpkg -i, loaded by the lab's real kea-dhcp4 from the installed path, run by a
DORA, then removed with dpkg -r, leaving nothing behind. And the man page renders cleanly.

Installing a package changes the machine: the test refuses to touch a kea-hook-runscript that
is already installed (by a package or by `make install`), and holds a lock so that two test
runs on one machine do not install at the same time."""

import fcntl
import gzip
import os
import re
import shutil
import subprocess

import pytest

from lab import hook, scaled

from examples_support import EXAMPLES, REPO

PACKAGE = "kea-hook-runscript"
INSTALLED = "/usr/lib/x86_64-linux-gnu/kea/hooks/kea-hook-runscript.so"
DOC = f"/usr/share/doc/{PACKAGE}"
MAN = "/usr/share/man/man7/kea-hook-runscript.7.gz"
LOCK = "/run/lock/kea-hook-runscript-test-package.lock"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="installs a package with dpkg: needs root")


def run(argv, **kwargs):
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("timeout", scaled(120))
    return subprocess.run(argv, **kwargs)


def installed_version():
    result = run(["dpkg-query", "-W", "-f=${db:Status-Status} ${Version}", PACKAGE])
    status, _, version = result.stdout.partition(" ")
    return version if result.returncode == 0 and status == "installed" else None


def kea_upstream_version():
    result = run(["dpkg-query", "-W", "-f=${Version}", "kea-common"], check=True)
    return re.sub(r"^\d+:", "", result.stdout).rsplit("-", 1)[0]


@pytest.fixture(scope="module")
def deb(tmp_path_factory, hook_so):
    """The package, built from the tree and the built library."""
    for tool in ("dpkg-deb", "dpkg-architecture", "dpkg-shlibdeps"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is missing (dpkg-dev)")
    out = tmp_path_factory.mktemp("deb")
    result = run(["sh", str(REPO / "packaging" / "build-deb.sh"), "-l", str(hook_so), "-o", str(out)])
    assert result.returncode == 0, result.stderr
    path = result.stdout.strip().splitlines()[-1]
    assert os.path.isfile(path) and path.endswith("_amd64.deb")
    return path


def test_package_contents(deb):
    fields = run(["dpkg-deb", "-f", deb, "Package", "Depends", "Architecture"], check=True).stdout
    assert f"Package: {PACKAGE}" in fields and "Architecture: amd64" in fields
    # Kea loads only hook libraries of its own release: the package says which one.
    kea = kea_upstream_version()
    major, minor, patch = kea.split(".")
    assert f"kea-common (>= {kea})" in fields
    assert f"kea-common (<< {major}.{minor}.{int(patch) + 1}~)" in fields

    listing = run(["dpkg-deb", "-c", deb], check=True).stdout
    entries = {line.split()[-1].lstrip("."): line.split()[0] for line in listing.splitlines()}
    assert entries[INSTALLED] == "-rw-r--r--"
    assert entries["/usr/sbin/kea-runscript-spool"] == "-rwxr-xr-x"
    assert entries["/usr/sbin/kea-runscript-status"] == "-rwxr-xr-x"
    assert MAN in entries
    for name in ("README.md", "faq.md", "migration.md", "copyright", "changelog.Debian.gz"):
        assert f"{DOC}/{name}" in entries
    shipped = {p.relative_to(EXAMPLES) for p in EXAMPLES.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert shipped
    for path in shipped:
        mode = entries[f"{DOC}/examples/{path}"]
        assert mode == ("-rwxr-xr-x" if os.access(EXAMPLES / path, os.X_OK) else "-rw-r--r--"), path


@pytest.mark.time_limit(120)
def test_install_run_remove(deb, lab, tmp_path):
    os.makedirs(os.path.dirname(LOCK), exist_ok=True)  # a fresh /run (a Debian root's) may lack it
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed_version():
            pytest.skip(f"{PACKAGE} {installed_version()} is installed here already: not touching it")
        if os.path.exists(INSTALLED):
            pytest.skip(f"{INSTALLED} exists (make install?): not overwriting it")
        result = run(["dpkg", "-i", deb])
        try:
            assert result.returncode == 0, result.stdout + result.stderr
            assert installed_version()
            files = run(["dpkg", "-L", PACKAGE], check=True).stdout.split()
            assert INSTALLED in files and MAN in files
            assert os.access(f"{DOC}/examples/ipv4-routes/ipv4-routes.sh", os.X_OK)
            with gzip.open(MAN, "rt") as man:
                assert man.read().startswith(".\\\"")

            # Kea loads the installed library; a DORA runs the script.
            rec = lab.recorder()
            kea = lab.start_kea(lab.config4(hooks=[hook(INSTALLED, script=rec.script,
                                                         hooks=["lease4_select"])]))
            kea.wait_log(r"RUNSCRIPT_LOADED")
            ack = lab.dhcp4().dora("02:aa:bb:cc:dd:01")
            calls = rec.wait_for("lease4_select", count=2)
            assert [c.env["KEA_FAKE_ALLOCATION"] for c in calls] == ["1", "0"]
            assert calls[1].env["KEA_LEASE4_ADDRESS"] == ack.yiaddr
            kea.stop()
        finally:
            removed = run(["dpkg", "-r", PACKAGE])
        assert removed.returncode == 0, removed.stdout + removed.stderr
        assert installed_version() is None
        for path in (INSTALLED, MAN, DOC):
            assert not os.path.exists(path), f"{path} left behind by dpkg -r"


def test_man_page_renders(tmp_path):
    """`man -l` renders the page, and groff finds nothing to warn about."""
    page = str(REPO / "man" / "kea-hook-runscript.7")
    if not shutil.which("man") or not shutil.which("groff"):
        pytest.skip("man-db / groff not installed")
    warnings = run(["groff", "-man", "-ww", "-z", page])
    assert warnings.returncode == 0 and warnings.stderr == "", warnings.stderr
    shown = run(["man", "--warnings", "-l", page], env={**os.environ, "MANWIDTH": "80", "LC_ALL": "C.UTF-8"})
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    text = shown.stdout
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "CONFIGURATION", "ENVIRONMENT", "WORKER PROTOCOL",
                    "EXIT STATUS", "LOG MESSAGES", "FILES", "SEE ALSO"):
        assert re.search(rf"^{section}$", text, re.M), section
    # Every configuration key and log message of the README is in the page.
    readme = (REPO / "README.md").read_text()
    keys = set(re.findall(r"^\| `([a-z-]+)` \| (?:string|boolean|list|integer|map|`)", readme, re.M))
    messages = set(re.findall(r"`(RUNSCRIPT_[A-Z_]+)`", readme))
    assert {"script", "wait", "replay"} <= keys and "RUNSCRIPT_LOADED" in messages
    flat = text.replace("\u2010\n", "").replace("-\n", "")
    missing = sorted(k for k in keys | messages if k not in flat)
    assert not missing, f"in the README, not in the man page: {missing}"
