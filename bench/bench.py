"""`make bench`: what a script hook costs Kea, measured side by side in one run.

For each lease database size (empty, then N leases loaded from a memfile), a fresh kea-dhcp4 in the
lab's network namespaces takes perfdhcp load at a rate above its capacity, once per setup:

    no hook          Kea alone: the reference
    empty callout    a library whose leases4_committed callout does nothing: what Kea's hook
                     machinery costs by itself, the floor for any library with a callout there
    ISC run_script   Debian's libdhcp_run_script.so, leases4_committed (always async: fork + exec)
    exec sync        ours, "wait": true: Kea waits for each script
    exec async       ours, "wait": false: an ordered queue, scripts run by 4 lanes
    worker async     ours, "mode": "worker", "wait": false: one Python process, events on stdin
    worker sync      ours, "mode": "worker", "wait": true: Kea waits for each answer

The exec setups and ISC's run the same one-line shell script at leases4_committed; the workers are
a Python program that counts events. Printed per setup: completed DORA/s and its ratio to no hook,
Kea's own CPU time per ACK and its ratio to no hook, script runs against the ACKs Kea sent (its own
pkt4-ack-sent statistic), events left in the spool at stop and events lost, Kea's resident size,
and for ours the mean time to start a script (posix_spawn) and to write an event to the spool,
from the library's RUNSCRIPT_STATS lines.

CPU per ACK is kea-dhcp4's user + system time (all its threads, from /proc) over the perfdhcp run,
divided by the ACKs Kea sent in that window. Scripts and workers are processes of their own and
are not in it: it is what a hook costs Kea itself, the time it takes from serving clients.

Everything runs in namespaces the lab creates and removes; traffic never leaves them.
"""

import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from lab import Lab  # noqa: E402
from lab.kea import hook  # noqa: E402
from lab.netns import CLIENT_IFACE  # noqa: E402
from lab.perfdhcp import PerfResult, _parse as parse_perfdhcp  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = os.path.join(ROOT, "build", "kea-hook-runscript.so")
ISC = "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_run_script.so"
EMPTY = os.path.join(ROOT, "build", "bench", "empty-callout.so")

SHELL_SCRIPT = """#!/bin/sh
echo "$1" >> {runs}
"""

# Counts events and answers each with 0, reading and answering in chunks: one interpreter for all
# events, and a few system calls for many of them (the protocol allows answers in batches).
WORKER_SCRIPT = """#!/usr/bin/python3
import os
count, last = 0, b""
while True:
    chunk = os.read(0, 1 << 16)
    if not chunk:
        break
    # An event ends with an empty line; values cannot hold a newline (it is escaped).
    ended = (last + chunk).count(b"\\n\\n") - last.count(b"\\n\\n")
    last = chunk[-1:]
    if ended:
        count += ended
        os.write(1, b"0\\n" * ended)
with open({runs!r}, "w") as f:
    f.write("%d\\n" % count)
"""

ASYNC = ("exec async", "worker async")

SETUPS = ["no hook", "empty callout", "ISC run_script", "exec sync", "exec async", "worker async", "worker sync"]


def write_leases(path, count):
    """A Kea 2.2 memfile with `count` active leases in 10.128.0.0/9 (subnet id 2)."""
    expire = int(time.time()) + 86400
    with open(path, "w") as f:
        f.write("address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,"
                "hostname,state,user_context\n")
        for i in range(count):
            a, b, c = (i >> 16) & 0x7F, (i >> 8) & 0xFF, i & 0xFF
            f.write(f"10.{128 + a}.{b}.{c},02:00:{a:02x}:{b:02x}:{c:02x}:01,,86400,{expire},2,0,0,,0,\n")


def knows_spool_dir():
    """Whether the built library takes "spool-dir": one that does not refuses it at load. Read at
    each run, as the library may be rebuilt while the bench goes on."""
    with open(OURS, "rb") as f:
        return b"spool-dir" in f.read()


def hooks_for(setup, workdir):
    runs = os.path.join(workdir, "runs")
    if setup == "no hook":
        return [], runs
    if setup == "empty callout":
        return [hook(EMPTY)], runs
    if setup.startswith("worker"):
        path = os.path.join(workdir, "worker.py")
        text = WORKER_SCRIPT.format(runs=runs)
    else:
        path = os.path.join(workdir, "script.sh")
        text = SHELL_SCRIPT.format(runs=runs)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    if setup == "ISC run_script":
        return [hook(ISC, name=path, sync=False)], runs
    params = {"script": path, "hooks": ["leases4_committed"], "wait": setup.endswith(" sync")}
    if setup.startswith("worker"):
        params["mode"] = "worker"
    if setup in ASYNC and knows_spool_dir():
        # In the lab's work directory, removed with it: the default is under /var/lib/kea.
        spool = os.path.join(workdir, "spool")
        os.makedirs(spool, exist_ok=True)
        params["spool-dir"] = spool
    return [hook(OURS, **params)], runs


def count_runs(runs, setup):
    if not os.path.exists(runs):
        return 0
    with open(runs) as f:
        text = f.read()
    return int(text.strip() or 0) if setup.startswith("worker") else text.count("\n")


def settle(runs, setup, acks, quiet=2.0, limit=120.0):
    """Waits until scripts Kea did not wait for have caught up with the ACKs, or stopped making
    progress: what is then missing was lost, not merely late."""
    if setup.startswith("worker") or setup in ("no hook", "empty callout"):
        return  # a worker's count is written when it exits
    last, since, start = -1, time.monotonic(), time.monotonic()
    while time.monotonic() - start < limit:
        now = count_runs(runs, setup)
        if now >= acks:
            return
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > quiet:
            return
        time.sleep(0.2)


def resident_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def cpu_seconds(pid):
    """User + system time of all the process's threads."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name (field 2) may hold spaces and parentheses; what follows its last ")"
        # starts at field 3, so utime and stime (fields 14 and 15) are the 12th and 13th there.
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def acks_sent(kea):
    """Kea's pkt4-ack-sent statistic (0 while it has none)."""
    samples = kea.command("statistic-get", {"name": "pkt4-ack-sent"}).get("pkt4-ack-sent")
    return samples[0][0] if samples else 0


def load(lab, args):
    """perfdhcp on the second core: the load generator stands for clients out on the network,
    and must not take Kea's core, nor move from one run to the next."""
    lab.net.add_relay_address()
    argv = ["taskset", "-c", str(os.cpu_count() - 1), "perfdhcp", "-4", "-r", args.rate,
            "-p", args.seconds, "-R", 10_000_000, "-W", 2_000_000, "-l", CLIENT_IFACE]
    done = lab.net.client.run(argv, timeout=args.seconds + 30, check=False)
    output = done.stdout + done.stderr
    return PerfResult(returncode=done.returncode, output=output, exchanges=parse_perfdhcp(output))


def run_one(setup, leases, args):
    with Lab() as lab:
        hooks, runs = hooks_for(setup, lab.workdir)
        config = lab.config4(persist=True, hooks=hooks, valid_lifetime=86400)
        dhcp4 = config["Dhcp4"]
        for subnet in dhcp4["subnet4"]:
            if subnet["id"] == 2:
                subnet["pools"] = [{"pool": "10.0.0.1 - 10.127.255.254"}]
        # Kea's own logging at DEBUG would be the bottleneck, not what we measure.
        dhcp4["loggers"][0]["severity"] = "INFO"
        dhcp4["loggers"][0].pop("debuglevel", None)
        if leases:
            write_leases(dhcp4["lease-database"]["name"], leases)
        kea = lab.start_kea(config, timeout=300)
        # The window is perfdhcp's run alone: not loading the leases at start, nor the drain
        # after it or the stop.
        acks_before, cpu_before = acks_sent(kea), cpu_seconds(kea.proc.pid)
        result = load(lab, args)
        cpu = cpu_seconds(kea.proc.pid) - cpu_before
        rss = resident_kb(kea.proc.pid)
        acks = result.received("REQUEST-ACK") if "REQUEST-ACK" in result.exchanges else 0
        # What Kea sent, not what perfdhcp counted: an ACK still in flight when perfdhcp stops
        # had its lease committed, and its script run, all the same.
        acks_after = acks_sent(kea)
        settle(runs, setup, acks_after)
        kea.stop(timeout=60)
        log = kea.log()
        stats = re.findall(r"RUNSCRIPT_STATS (\d+) scripts started so far; starting one took "
                           r"([\d.]+) us", log)
        spool_writes = re.findall(r"(\d+) events written to the spool ahead of delivery, ([\d.]+) us each",
                                  log)
        # Not lost: the next start of Kea delivers them.
        spooled = sum(int(n) for n in re.findall(r"(\d+) events not yet delivered stay in the spool", log))
        # Scripts Kea does not wait for may still be finishing: the count settles after stop().
        script_runs = count_runs(runs, setup)
        window = acks_after - acks_before
        return {
            "dora_per_s": acks / args.seconds,
            "acks": acks,
            "acks_sent": acks_after,
            "runs": script_runs,
            "spooled": spooled,
            "cpu_us_per_ack": cpu / window * 1e6 if window else None,
            "rss_mb": rss / 1024,
            "spawn_us": float(stats[-1][1]) if stats else None,
            "spool_write_us": float(spool_writes[-1][1]) if spool_writes else None,
        }


def lost_events(r):
    """ACKs whose event neither ran nor stayed in the spool for the next start."""
    return r["acks_sent"] - r["runs"] - r["spooled"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leases", type=int, default=500_000, help="size of the loaded lease database")
    parser.add_argument("--rate", type=int, default=20_000, help="perfdhcp DORA/s offered (above capacity)")
    parser.add_argument("--seconds", type=int, default=8, help="perfdhcp run time per setup")
    parser.add_argument("--setups", default=",".join(SETUPS), help="comma-separated subset")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds over all setups; each setup's best round counts")
    args = parser.parse_args()
    setups = [s for s in args.setups.split(",") if s]
    results = {}
    # Rounds interleave the setups, so a disturbance on the machine hits them all alike; a
    # setup's best round is kept, as the least disturbed measure of what it can do.
    for leases in (0, args.leases):
        for round_ in range(args.repeat):
            for setup in setups:
                print(f"  round {round_ + 1}/{args.repeat}: {setup:15} with {leases:>7} leases ...",
                      file=sys.stderr, flush=True)
                result = run_one(setup, leases, args)
                best = results.get((leases, setup))
                if best is None or result["dora_per_s"] > best["dora_per_s"]:
                    results[(leases, setup)] = result
    print()
    print(f"kea-dhcp4 2.2, perfdhcp -r {args.rate} for {args.seconds} s per setup (best of "
          f"{args.repeat}), scripts at leases4_committed; {os.cpu_count()} cores")
    for leases in (0, args.leases):
        base = results.get((leases, "no hook"), {}).get("dora_per_s") or None
        base_cpu = results.get((leases, "no hook"), {}).get("cpu_us_per_ack")
        print(f"\nlease database: {leases} leases")
        print(f"  {'setup':15} {'DORA/s':>8} {'vs none':>8} {'CPU/ACK':>10} {'vs none':>8} {'ACKs':>8} "
              f"{'runs':>8} {'spooled':>8} {'lost':>6} {'Kea RSS':>9} {'spawn':>9} {'spool write':>12}")
        for setup in setups:
            r = results[(leases, setup)]
            ratio = f"{r['dora_per_s'] / base:.2f}" if base else "-"
            cpu = f"{r['cpu_us_per_ack']:.1f} us" if r["cpu_us_per_ack"] is not None else "-"
            cpu_ratio = f"{r['cpu_us_per_ack'] / base_cpu:.2f}" if r["cpu_us_per_ack"] and base_cpu else "-"
            no_events = setup in ("no hook", "empty callout")
            spooled = "-" if no_events else str(r["spooled"])
            lost = "-" if no_events else str(lost_events(r))
            spawn = f"{r['spawn_us']:.0f} us" if r["spawn_us"] is not None else "-"
            spool_write = f"{r['spool_write_us']:.2f} us" if r["spool_write_us"] is not None else ""
            row = (f"  {setup:15} {r['dora_per_s']:8.0f} {ratio:>8} {cpu:>10} {cpu_ratio:>8} "
                   f"{r['acks_sent']:8d} {r['runs']:8d} {spooled:>8} {lost:>6} {r['rss_mb']:7.0f}MB "
                   f"{spawn:>9} {spool_write:>12}")
            print(row.rstrip())
    big, empty = args.leases, 0

    def get(leases, setup, key):
        return results.get((leases, setup), {}).get(key)

    print("\ntargets")
    checks = []
    wa, nh = get(empty, "worker async", "dora_per_s"), get(empty, "no hook", "dora_per_s")
    if wa and nh:
        lost = lost_events(results[(empty, "worker async")])
        spooled = get(empty, "worker async", "spooled")
        floor = get(empty, "empty callout", "dora_per_s")
        context = f" (an empty callout: {floor / nh:.2f})" if floor else ""
        checks.append((f"worker async >= 0.95 x no hook, nothing lost: {wa / nh:.2f}, lost {lost}"
                       + (f", spooled {spooled}" if spooled else "") + context,
                       wa / nh >= 0.95 and lost == 0))
    for leases in (empty, big):
        wc, nc = get(leases, "worker async", "cpu_us_per_ack"), get(leases, "no hook", "cpu_us_per_ack")
        if wc and nc:
            checks.append((f"worker async CPU per ACK <= 1.10 x no hook: {wc / nc:.2f} "
                           f"({wc:.1f} us vs {nc:.1f} us at {leases} leases)", wc <= 1.10 * nc))
    ea, isc = get(big, "exec async", "dora_per_s"), get(big, "ISC run_script", "dora_per_s")
    if ea is not None and isc:
        checks.append((f"exec async at {big} leases >= 6 x ISC's committed leases/s: "
                       f"{ea / isc:.1f} x ({ea:.0f}/s vs {isc:.0f}/s)", ea >= 6 * isc))
    s0 = get(empty, "exec async", "spawn_us")
    s1 = get(big, "exec async", "spawn_us")
    if s0 and s1:
        checks.append((f"spawn cost at {big} leases within 1.5 x empty: {s1:.0f} us vs {s0:.0f} us "
                       f"({s1 / s0:.2f} x)", s1 <= 1.5 * s0))
    # The worst of our async setups at either size: each of them writes every event ahead.
    writes = [(value, setup, leases) for leases in (empty, big) for setup in ASYNC
              if (value := get(leases, setup, "spool_write_us")) is not None]
    if writes:
        value, setup, leases = max(writes)
        checks.append((f"spool write <= 2 us per event: {value:.2f} us (the most of {len(writes)}: "
                       f"{setup} at {leases} leases)", value <= 2))
    elif any(s in setups for s in ASYNC):
        checks.append(("spool write <= 2 us per event: not reported (the library has no spool yet)", None))
    for text, ok in checks:
        print(f"  [{'n/a' if ok is None else 'met' if ok else 'MISSED'}] {text}")


if __name__ == "__main__":
    main()
