"""What a script inherits from Kea, and what it leaves behind.

A script starts clean: only fds 0, 1, 2 (stdin /dev/null), no signal blocked
or ignored, its own process group, nothing of Kea's environment but what the
hook builds. That is checked with a small C program as the script (a shell
would open its own script file first and blur the fd list), which reports
what it got before opening anything. Kea runs multi-threaded (DHCPv4) and
single-threaded (DHCPv6), with wait true and false, and has its lease file
and log open, so a leak would show.

Then: no zombie after thousands of runs in both wait modes (a fixed load,
waited for to the end), and a route script written for the original works
unchanged.
"""

import os
import re
import subprocess

import pytest
import reference
from lab import hook, wait_until
from lab.dhcp4 import Dhcp4Client
from lab.netns import SERVER_IFACE

REPORTER_C = r"""
/* Hook script for test_script_hygiene.py: reports what it inherited.
 * The fd list is taken first, before this program opens anything but the
 * directory it lists. One file per run: OUT_DIR/<argv[1]>-<pid>. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    int fds[64], nfds = 0;
    char links[64][256];
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return 10;
    struct dirent *entry;
    while ((entry = readdir(dir)) && nfds < 64) {
        if (entry->d_name[0] != '.' && atoi(entry->d_name) != dirfd(dir))
            fds[nfds++] = atoi(entry->d_name);
    }
    closedir(dir);
    for (int i = 0; i < nfds; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fds[i]);
        ssize_t n = readlink(path, links[i], sizeof links[i] - 1);
        links[i][n < 0 ? 0 : n] = '\0';
    }

    char out[4096], tmp[4200];
    snprintf(out, sizeof out, "%s/%s-%d", OUT_DIR, argc > 1 ? argv[1] : "-", (int)getpid());
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    FILE *report = fopen(tmp, "w");
    if (!report)
        return 11;
    fprintf(report, "pid=%d\nppid=%d\npgrp=%d\nsid=%d\n", (int)getpid(), (int)getppid(), (int)getpgrp(),
            (int)getsid(0));
    for (int i = 0; i < nfds; i++)
        fprintf(report, "fd%d=%s\n", fds[i], links[i]);
    FILE *status = fopen("/proc/self/status", "r");
    char line[512];
    while (status && fgets(line, sizeof line, status)) {
        if (!strncmp(line, "SigBlk:", 7) || !strncmp(line, "SigIgn:", 7))
            fputs(line, report);
    }
    if (status)
        fclose(status);
    /* Then the environment, exactly: NUL-terminated entries. */
    fputs("environ\n", report);
    for (char **e = environ; *e; e++)
        fwrite(*e, 1, strlen(*e) + 1, report);
    if (fclose(report) != 0 || rename(tmp, out) != 0)
        return 12;
    return 0;
}
"""


class Reporter:
    """The compiled reporter and the reports it wrote."""

    def __init__(self, directory):
        self.dir = os.path.join(directory, "reports")
        os.makedirs(self.dir)
        source = os.path.join(directory, "reporter.c")
        with open(source, "w") as f:
            f.write(REPORTER_C)
        self.path = os.path.join(directory, "reporter")
        subprocess.run(["gcc", "-O2", "-Wall", "-Werror", f'-DOUT_DIR="{self.dir}"', "-o", self.path, source],
                       check=True, capture_output=True)

    def reports(self):
        """[(hook point, {key: value}, {env name: value})], one per run."""
        found = []
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".tmp"):
                continue
            with open(os.path.join(self.dir, name), "rb") as f:
                head, _, environ = f.read().partition(b"environ\n")
            # "pid=123", "fd0=/dev/null", and /proc's "SigBlk:\t0000000000000000"
            fields = dict(re.findall(r"^(\w+)[=:]\s*(.*)$", head.decode(), re.M))
            env = dict(entry.decode(errors="replace").split("=", 1) for entry in environ.split(b"\0") if entry)
            found.append((name.rsplit("-", 1)[0], fields, env))
        return found

    def wait_for(self, hook_point, timeout=10):
        return wait_until(lambda: [r for r in self.reports() if r[0] == hook_point], timeout=timeout,
                          what=f"a report from {hook_point}")


def open_files(pid):
    """What /proc/<pid>/fd points to."""
    links = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:
            pass
    return links


def holds_open(pid, path):
    """Whether `pid` has the file `path` open. Compared as files, not names: Kea runs in a mount
    namespace of its own (ip netns exec), and when the lab runs in a chroot (tools/kea-root), Kea's
    descriptors read back with the chroot's path in front."""
    wanted = os.stat(path)
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            held = os.stat(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue  # closed meanwhile
        if (held.st_dev, held.st_ino) == (wanted.st_dev, wanted.st_ino):
            return True
    return False


def children(pid):
    """{child pid: state letter} of every thread of `pid` (Z = zombie)."""
    found = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids = f.read().split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread is gone
        for kid in kids:
            try:
                with open(f"/proc/{kid}/stat") as f:
                    found[int(kid)] = f.read().rpartition(")")[2].split()[0]
            except (FileNotFoundError, ProcessLookupError):
                pass  # reaped meanwhile (between the open and the read: ESRCH)
    return found


@pytest.mark.parametrize("version, multi_threading, wait", [
    (4, True, True),
    (4, True, False),
    (6, False, True),
])
@pytest.mark.time_limit(40)
def test_script_starts_clean(lab, hook_so, version, multi_threading, wait):
    reporter = Reporter(lab.workdir)
    make_config = lab.config4 if version == 4 else lab.config6
    # persist: Kea keeps its lease file open, one more thing that must not leak.
    kea = lab.start_kea(make_config(valid_lifetime=2, persist=True, multi_threading=multi_threading,
                                    hooks=[hook(hook_so, script=reporter.path, wait=wait)]),
                        env=reference.KEA_ENV_CANARIES)
    lease_file = kea.config[f"Dhcp{version}"]["lease-database"]["name"]
    # so the test can fail
    assert holds_open(kea.proc.pid, lease_file) and holds_open(kea.proc.pid, kea.log_path), open_files(kea.proc.pid)

    if version == 4:
        lab.dhcp4().dora("02:aa:bb:cc:dd:01")
        hook_points = ("pkt4_receive", "subnet4_select", "lease4_select", "pkt4_send", "lease4_expire")
    else:
        lab.dhcp6().sarr("02:00:00:00:01:c7", pd=True)
        hook_points = ("pkt6_receive", "subnet6_select", "lease6_select", "pkt6_send", "lease6_expire")
    reporter.wait_for(hook_points[-1])  # reclamation runs on Kea's main thread, the rest on packet threads

    reports = reporter.reports()
    assert {hook_point for hook_point, _, _ in reports} == set(hook_points)
    for hook_point, fields, env in reports:
        where = f"{hook_point}, pid {fields['pid']}"
        assert sorted(k for k in fields if k.startswith("fd")) == ["fd0", "fd1", "fd2"], (where, fields)
        assert fields["fd0"] == "/dev/null", where
        assert fields["fd1"].startswith("pipe:") and fields["fd2"].startswith("pipe:"), (where, fields)
        assert int(fields["SigBlk"], 16) == 0, (where, fields["SigBlk"])
        assert int(fields["SigIgn"], 16) == 0, (where, fields["SigIgn"])
        assert fields["pgrp"] == fields["pid"], (where, "not its own process group leader")
        assert fields["ppid"] == str(kea.proc.pid), where
        # Exact: no shell in between that could add or hide variables.
        assert not reference.environment_errors(env), (where, reference.environment_errors(env))
        assert any(name.startswith(f"KEA_QUERY{version}_") or name.startswith(f"KEA_LEASE{version}_")
                   for name in env), (where, env)


# A DISCOVER runs the script at 4 hook points (pkt4_receive, subnet4_select,
# lease4_select, pkt4_send): 250 new clients' DISCOVERs are 1,000 runs.
DISCOVERS, RUNS = 250, 1000


@pytest.mark.time_limit(90)
def test_no_zombie_after_thousands_of_runs(lab, hook_so):
    """Thousands of runs of a trivial script (a fixed load, 8 clients at a
    time, waited for to the end), wait true then wait false: every run is
    reaped, and Kea still serves."""
    counter = os.path.join(lab.workdir, "runs")
    script = lab.script("count.sh", f"printf . >> {counter}\nexit 0")
    kea = lab.start_kea(lab.config4(multi_threading=True, log_debuglevel=0,
                                    hooks=[hook(hook_so, script=script, wait=True)]))

    def runs():
        return os.path.getsize(counter) if os.path.exists(counter) else 0

    for round_number, wait in enumerate((True, False)):
        if not wait:
            kea.config["Dhcp4"]["hooks-libraries"] = [hook(hook_so, script=script, wait=False)]
            kea.reload()
        before = runs()
        macs = [f"02:00:00:5a:{round_number:02x}:{i:02x}" for i in range(DISCOVERS)]
        offers = lab.dhcp4_in_parallel(macs, Dhcp4Client.discover)
        assert all(offer and offer.type == "DHCPOFFER" for offer in offers.values()), offers
        # With wait false the last runs may still be queued or going; a zombie would stay.
        wait_until(lambda: runs() - before >= RUNS, timeout=30, what=f"wait={wait}: {RUNS} runs")
        try:
            wait_until(lambda: not children(kea.proc.pid), timeout=10, what="Kea's children to be reaped")
        except AssertionError:
            pytest.fail(f"wait={wait}: children of Kea left: {children(kea.proc.pid)}")
        assert runs() - before == RUNS, f"wait={wait}"

    assert not kea.log_lines(r"RUNSCRIPT_(EXEC_FAILED|SPAWN_FAILED|EXIT_STATUS|KILLED|STATUS_LOST|TIMEOUT)")
    assert kea.is_running()
    assert lab.dhcp4().dora("02:aa:bb:cc:dd:01").type == "DHCPACK"


ROUTE_SCRIPT = """\
# A script written for the original hook: a /32 route per client.
case "$1" in
  lease4_select)
    [ "$KEA_FAKE_ALLOCATION" = 0 ] && ip route add "$KEA_LEASE4_ADDRESS/32" dev {iface} ;;
  lease4_release|lease4_expire)
    ip route del "$KEA_LEASE4_ADDRESS/32" dev {iface} ;;
esac
exit 0
"""


def test_route_script_of_the_original_works_unchanged(lab, hook_so):
    script = lab.script("routes.sh", ROUTE_SCRIPT.format(iface=SERVER_IFACE))
    kea = lab.start_kea(lab.config4(hooks=[hook(hook_so, script=script, wait=True)]))
    client = lab.dhcp4()

    def route(address):
        return lab.net.server.run(["ip", "route", "show", f"{address}/32"]).stdout.strip()

    ack = client.dora("02:aa:bb:cc:dd:01")
    # wait true: the route is in place before Kea sends the ACK.
    assert route(ack.yiaddr) == f"{ack.yiaddr} dev {SERVER_IFACE} scope link"
    client.release("02:aa:bb:cc:dd:01", ack.yiaddr, ack.server_id)
    wait_until(lambda: not route(ack.yiaddr), timeout=5, what=f"the route to {ack.yiaddr} to go")
    assert not kea.log_lines(r"RUNSCRIPT_(EXIT_STATUS|STDERR)")  # ip did not complain
