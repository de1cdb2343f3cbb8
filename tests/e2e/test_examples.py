"""The examples of examples/, each run on the lab's real Kea with real clients, as its README
says to install it (examples_support.example_config), and checked by its effect: routes in the
server's namespace, nftables set contents, log lines, DNS records, a worker's status file."""

import ipaddress
import json
import math
import os
import pwd
import re
import shutil
import tempfile
import time

import pytest

from lab import Lab, scaled, slack
from lab import kea as lab_kea
from lab.netns import CLIENT_IFACE
from lab.wait import wait_until

import examples_dns
from examples_relay6 import Relay6
from examples_support import (EXAMPLES, example_config, fragment, install_scripts, ip, nft,
                              shell_scripts, shellcheck, wait_file_lines)

EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())


# --- every example is complete --------------------------------------------------------------

@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_folder_is_complete(name):
    folder = EXAMPLES / name
    assert (folder / "README.md").is_file()
    fragments = sorted(folder.glob("kea-dhcp*.json"))
    assert fragments, f"{name}: no Kea configuration fragment"
    for path in fragments:
        entries = json.loads(path.read_text())["hooks-libraries"]
        script = entries[0]["parameters"]["script"]
        shipped = folder / os.path.basename(script)
        assert shipped.is_file() and os.access(shipped, os.X_OK), f"{path.name}: {script} not shipped executable"
        assert script == f"/etc/kea/{shipped.name}"
        assert (folder / "README.md").read_text().count(shipped.name) >= 1


@pytest.mark.parametrize("script", shell_scripts(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shell_scripts_are_clean(script):
    complaints = shellcheck(script)
    if complaints is None:
        pytest.skip("shellcheck is not installed")
    assert complaints == ""


# --- debug ------------------------------------------------------------------------------------

def _debug_blocks(path):
    """The blocks debug.sh wrote: [(hook, {name: value})], multi-line values joined again."""
    blocks = []
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f.read().splitlines():
            if line.startswith("==== "):
                blocks.append((line.split()[2], {}))
                last = None
            elif line.startswith("    ") and last:
                blocks[-1][1][last] += "\n" + line[4:]
            else:
                last, _, value = line.partition("=")
                blocks[-1][1][last] = value
    return blocks


@pytest.mark.parametrize("family", [4, 6])
def test_debug_prints_every_variable_of_every_call(lab, hook_so, family):
    """debug.sh runs next to the lab's recorder at every hook point: each of its blocks has
    exactly the variables, and values, that the recorder saw in the same call."""
    rec = lab.recorder()
    log = os.path.join(lab.workdir, "debug.log")
    config = example_config(lab, hook_so, "debug", family, env={"DEBUG_LOG": log})
    params = config[f"Dhcp{family}"]["hooks-libraries"][0]["parameters"]
    config[f"Dhcp{family}"]["hooks-libraries"][0]["parameters"] = {
        "scripts": [params, {"script": rec.script}]}
    lab.start_kea(config)
    if family == 4:
        client = lab.dhcp4()
        ack = client.dora("02:aa:bb:cc:dd:01", hostname="debug-me")
        client.release("02:aa:bb:cc:dd:01", ack.yiaddr, ack.server_id)
        rec.wait_for("lease4_release")
    else:
        client = lab.dhcp6()
        reply = client.sarr("02:00:00:00:01:c7", pd=True)
        client.release("02:00:00:00:01:c7", reply)
        rec.wait_for("lease6_release", count=2)
    calls = rec.calls()
    blocks = _debug_blocks(log)
    assert len(calls) >= 8
    assert [hook for hook, _ in blocks] == [c.hook for c in calls]
    for (hook, variables), call in zip(blocks, calls):
        assert variables.pop("DEBUG_LOG") == log  # its own "env"; the recorder has none
        assert variables == call.env, hook
    assert any(v.get("KEA_LEASE%d_ADDRESS" % family) for _, v in blocks)


def test_debug_to_kea_log(lab, hook_so):
    config = example_config(lab, hook_so, "debug", 4, env={"DEBUG_LOG": "-"},
                            parameters={"hooks": ["lease4_select"]})
    kea = lab.start_kea(config)
    ack = lab.dhcp4().dora("02:aa:bb:cc:dd:02")
    kea.wait_log(rf"RUNSCRIPT_STDOUT .*KEA_LEASE4_ADDRESS={re.escape(ack.yiaddr)}$")
    kea.wait_log(r"RUNSCRIPT_STDOUT .*==== \S+ lease4_select \(pid \d+\)")
    assert not kea.log_lines("RUNSCRIPT_(EXIT_STATUS|EXEC_FAILED|STDERR)")


# --- ipv4-routes ------------------------------------------------------------------------------

def _routes4(lab, address):
    return ip(lab.net.server, "-4", "route", "show", f"{address}/32").strip()


def _ping(lab, target, seconds):
    """Whether one ping from the client gets its answer within `seconds`."""
    return lab.net.client.run(["ping", "-c1", f"-W{math.ceil(seconds)}", target], check=False,
                              timeout=10 + seconds).returncode == 0


@pytest.mark.time_limit(60)
def test_ipv4_routes(lab, hook_so):
    """Option 121 reaches the client; the lease's /32 route appears in the server's namespace
    and makes the client (whose address is outside the server's subnet) reachable; it goes at
    release and at expiry, and a reconfiguration (replay) puts it back after a flush."""
    kea = lab.start_kea(example_config(lab, hook_so, "ipv4-routes", 4, valid_lifetime=6, persist=True))
    client = lab.dhcp4()
    mac = lab.net.client.mac(CLIENT_IFACE)  # the client namespace's own MAC: it can then ping
    ack = client.dora(mac)
    address = ack.yiaddr
    assert ipaddress.ip_address(address) in ipaddress.ip_network("203.0.113.0/24")
    routes = ack.options["classless_static_routes"]
    assert routes == ["192.0.2.1/32:0.0.0.0", "0.0.0.0/0:192.0.2.1"]
    assert _routes4(lab, address) == f"{address} dev veth-s proto static scope link"

    # The client configures what it was given: its address, alone, and option 121's routes.
    ip(lab.net.client, "addr", "add", f"{address}/32", "dev", CLIENT_IFACE)
    for route in routes:
        destination, gateway = route.split(":")
        via = ["dev", CLIENT_IFACE] if gateway == "0.0.0.0" else ["via", gateway]
        ip(lab.net.client, "route", "add", "default" if destination == "0.0.0.0/0" else destination, *via)
    assert _ping(lab, "192.0.2.1", scaled(3)), "the server cannot answer its client: no route to it"

    renewed = client.renew(mac, address)
    assert renewed.type == "DHCPACK" and _routes4(lab, address)

    client.release(mac, address, ack.server_id)
    wait_until(lambda: not _routes4(lab, address), timeout=5, what="the route to go at release")
    assert not _ping(lab, "192.0.2.1", slack())

    other = client.dora("02:aa:bb:cc:dd:07").yiaddr
    assert _routes4(lab, other)
    ip(lab.net.server, "route", "flush", "proto", "static")
    kea.reload()  # replay: every active lease is delivered again
    wait_until(lambda: _routes4(lab, other), timeout=5, what="the replayed route")
    wait_until(lambda: not _routes4(lab, other), timeout=15, what="the route to go at expiry")
    kea.wait_log(r"lease4_expire")
    assert not kea.log_lines("RUNSCRIPT_(EXIT_STATUS|EXEC_FAILED|STDERR)")


# The FAQ's claim, checked: Debian's unit runs Kea as _kea with CAP_NET_BIND_SERVICE and
# CAP_NET_RAW in its ambient set (what systemd's AmbientCapabilities= does, done here by setpriv),
# so `ip route` fails in the script; the drop-in adds CAP_NET_ADMIN, and the same script works.

@pytest.mark.parametrize("net_admin", [False, True], ids=["debian-unit", "with-drop-in"])
def test_ipv4_routes_as_kea_user(hook_so, net_admin, monkeypatch):
    try:
        kea_user = pwd.getpwnam("_kea")
    except KeyError:
        pytest.skip("no _kea user (Debian's kea-common creates it)")
    workdir = tempfile.mkdtemp(prefix="kealab-kea-user-")
    try:
        # _kea's own, and no more open than Kea 3.0 allows its control socket's directory.
        os.chmod(workdir, 0o750)
        os.chown(workdir, kea_user.pw_uid, kea_user.pw_gid)
        caps = "+net_bind_service,+net_raw" + (",+net_admin" if net_admin else "")
        wrapper = os.path.join(workdir, "kea-dhcp4-as-kea")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\n"
                    f"exec setpriv --reuid=_kea --regid=_kea --init-groups --inh-caps={caps} "
                    f"--ambient-caps={caps} /usr/sbin/kea-dhcp4 \"$@\"\n")
        os.chmod(wrapper, 0o755)
        monkeypatch.setitem(lab_kea.KEA_BIN, 4, wrapper)
        with Lab(workdir=workdir) as the_lab:
            kea = the_lab.start_kea(example_config(the_lab, hook_so, "ipv4-routes", 4))
            with open(f"/proc/{kea.proc.pid}/status") as f:
                assert re.search(rf"^Uid:\s+{kea_user.pw_uid}\s", f.read(), re.M)
            ack = the_lab.dhcp4().dora("02:aa:bb:cc:dd:01")
            if net_admin:
                assert _routes4(the_lab, ack.yiaddr)
                assert not kea.log_lines("RUNSCRIPT_(EXIT_STATUS|STDERR)")
            else:
                assert not _routes4(the_lab, ack.yiaddr)
                kea.wait_log(r"RUNSCRIPT_STDERR .*Operation not permitted")
                kea.wait_log(r"RUNSCRIPT_EXIT_STATUS")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --- ipv6-pd-routes ---------------------------------------------------------------------------

def _routes6(lab, prefix):
    return ip(lab.net.server, "-6", "route", "show", prefix).strip()


@pytest.mark.time_limit(60)
def test_ipv6_pd_routes(lab, hook_so):
    kea = lab.start_kea(example_config(lab, hook_so, "ipv6-pd-routes", 6, valid_lifetime=5))
    client = lab.dhcp6()
    link_local = lab.net.client.link_local(CLIENT_IFACE)

    advertise = client.solicit("02:00:00:00:01:c7", pd=True)
    assert advertise.prefixes and not _routes6(lab, advertise.prefixes[0])  # a SOLICIT adds nothing
    reply = client.request("02:00:00:00:01:c7", advertise)
    (prefix,) = reply.prefixes
    assert _routes6(lab, prefix).startswith(f"{prefix} via {link_local} dev veth-s proto static")
    (address,) = reply.addresses
    assert not _routes6(lab, f"{address}/128")  # addresses are not routed

    client.renew("02:00:00:00:01:c7", reply)
    assert _routes6(lab, prefix)
    client.release("02:00:00:00:01:c7", reply)
    wait_until(lambda: not _routes6(lab, prefix), timeout=5, what="the route to go at release")

    (expiring,) = client.sarr("02:00:00:00:01:7f", pd=True).prefixes
    assert _routes6(lab, expiring)
    wait_until(lambda: not _routes6(lab, expiring), timeout=15, what="the route to go at expiry")
    assert not kea.log_lines("RUNSCRIPT_(EXIT_STATUS|EXEC_FAILED|STDERR)")


# --- nftables ---------------------------------------------------------------------------------

def _load_table(lab):
    ruleset_file = install_scripts(lab, "nftables")["kea.nft"]
    ruleset_file.write_text(ruleset_file.read_text().replace('"eth1"', '"veth-s"'))
    nft(lab.net.server, "-f", str(ruleset_file))


def _elements(lab, name):
    """The elements of set inet kea <name>, as strings ("192.0.2.10", "2001:db8::/56")."""
    out = json.loads(nft(lab.net.server, "-j", "list", "set", "inet", "kea", name).stdout)
    elements = next(item["set"] for item in out["nftables"] if "set" in item).get("elem", [])
    return {e if isinstance(e, str) else f"{e['prefix']['addr']}/{e['prefix']['len']}" for e in elements}


@pytest.mark.time_limit(60)
def test_nftables_v4(lab, hook_so):
    _load_table(lab)
    kea = lab.start_kea(example_config(lab, hook_so, "nftables", 4, valid_lifetime=5, persist=True))
    client = lab.dhcp4()
    assert client.discover("02:aa:bb:cc:dd:01").type == "DHCPOFFER"
    assert _elements(lab, "admitted4") == set()  # an offer admits nobody
    kept = client.dora("02:aa:bb:cc:dd:01")
    released = client.dora("02:aa:bb:cc:dd:02")
    assert _elements(lab, "admitted4") == {kept.yiaddr, released.yiaddr}
    client.release("02:aa:bb:cc:dd:02", released.yiaddr, released.server_id)
    wait_until(lambda: _elements(lab, "admitted4") == {kept.yiaddr}, timeout=5, what="release to expel")

    nft(lab.net.server, "flush", "set", "inet", "kea", "admitted4")  # e.g. `nft -f` of the ruleset
    kea.reload()  # replay
    wait_until(lambda: _elements(lab, "admitted4") == {kept.yiaddr}, timeout=5, what="the replayed lease")
    wait_until(lambda: _elements(lab, "admitted4") == set(), timeout=15, what="expiry to expel")
    assert not kea.log_lines("RUNSCRIPT_(EXIT_STATUS|EXEC_FAILED|STDERR)")


@pytest.mark.time_limit(60)
def test_nftables_v6(lab, hook_so):
    _load_table(lab)
    kea = lab.start_kea(example_config(lab, hook_so, "nftables", 6))
    client = lab.dhcp6()
    reply = client.sarr("02:00:00:00:01:c7", pd=True)
    assert _elements(lab, "admitted6") == {reply.addresses[0], reply.prefixes[0]}
    client.release("02:00:00:00:01:c7", reply)
    wait_until(lambda: _elements(lab, "admitted6") == set(), timeout=5, what="release to expel")
    assert not kea.log_lines("RUNSCRIPT_(EXIT_STATUS|EXEC_FAILED|STDERR)")


# --- legal-log --------------------------------------------------------------------------------

def _records(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


@pytest.mark.time_limit(60)
def test_legal_log_v4(lab, hook_so):
    log = os.path.join(lab.workdir, "legal4.jsonl")
    kea = lab.start_kea(example_config(lab, hook_so, "legal-log", 4, env={"LEGAL_LOG": log},
                                       valid_lifetime=4))
    client = lab.dhcp4()
    offer = client.relayed_discover("02:aa:bb:cc:dd:ee", circuit_id="eth0/1", remote_id=b"\x02\xaa\xbb",
                                    subscriber_id="sub-42", hostname="relayed-host")
    ack = client.relayed_request("02:aa:bb:cc:dd:ee", offer.yiaddr, offer.server_id, circuit_id="eth0/1",
                                 remote_id=b"\x02\xaa\xbb", subscriber_id="sub-42", hostname="relayed-host")
    assert ack.type == "DHCPACK"
    # "wait": true: the record is written before Kea answers, so it is there already.
    (assign,) = _records(log)
    assert assign["event"] == "assign" and assign["family"] == 4
    assert assign["address"] == ack.yiaddr
    assert assign["hwaddr"] == "02:aa:bb:cc:dd:ee"
    assert assign["hostname"] == "relayed-host"
    assert assign["valid_lifetime"] == 4
    assert assign["relay"] == {"giaddr": "192.0.2.2", "circuit_id": "0x657468302F31", "circuit_id_text": "eth0/1",
                               "remote_id": "0x02AABB", "subscriber_id": "0x7375622D3432",
                               "subscriber_id_text": "sub-42"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", assign["time"])

    direct = client.dora("02:aa:bb:cc:dd:01", hostname="direct")
    client.renew("02:aa:bb:cc:dd:01", direct.yiaddr)
    client.release("02:aa:bb:cc:dd:01", direct.yiaddr, direct.server_id)
    wait_until(wait_file_lines(log, lambda r: r["event"] == "release"), timeout=5, what="the release record")
    expired = wait_until(wait_file_lines(log, lambda r: r["event"] == "expire"), timeout=15,
                         what="the expire record")
    assert expired[0]["address"] == ack.yiaddr and expired[0]["hwaddr"] == "02:aa:bb:cc:dd:ee"
    events = [(r["event"], r["address"]) for r in _records(log)]
    assert events == [("assign", ack.yiaddr), ("assign", direct.yiaddr), ("renew", direct.yiaddr),
                      ("release", direct.yiaddr), ("expire", ack.yiaddr)]
    assert "relay" not in _records(log)[1]
    assert not kea.log_lines("RUNSCRIPT_WORKER_(ANSWER|PROTOCOL|RESTART)")


@pytest.mark.time_limit(60)
def test_legal_log_v6(lab, hook_so):
    log = os.path.join(lab.workdir, "legal6.jsonl")
    kea = lab.start_kea(example_config(lab, hook_so, "legal-log", 6, env={"LEGAL_LOG": log},
                                       valid_lifetime=4))
    relay = Relay6(lab.net)
    try:
        relay.sarr("02:00:00:00:02:01", interface_id=b"ge-0/0/1.42", remote_id=b"\xde\xad\xbe\xef",
                   subscriber_id=b"sub-6", fqdn="cpe.example.org.")
    finally:
        relay.close()
    records = _records(log)
    assert sorted(r["type"] for r in records) == ["IA_NA", "IA_PD"]
    for record in records:
        assert record["event"] == "assign" and record["family"] == 6
        assert record["duid"] == "00:03:00:01:02:00:00:00:02:01"  # DUID-LL of the MAC
        assert record["relays"] == [{
            "link_address": "2001:db8:1::2", "peer_address": "fe80::1:2",
            "interface_id": "0x67652D302F302F312E3432", "interface_id_text": "ge-0/0/1.42",
            "remote_id": "0x0000118BDEADBEEF",  # enterprise number 4491 first
            "subscriber_id": "0x7375622D36", "subscriber_id_text": "sub-6"}]
        assert record["valid_lifetime"] == 4 and record["preferred_lifetime"] == 3
    (pd,) = [r for r in records if r["type"] == "IA_PD"]
    assert pd["prefix"].endswith("/56") and "address" not in pd
    expired = wait_until(wait_file_lines(log, lambda r: r["event"] == "expire", count=2), timeout=15,
                         what="two expire records")
    assert {r["type"] for r in expired} == {"IA_NA", "IA_PD"}
    assert not kea.log_lines("RUNSCRIPT_WORKER_(ANSWER|PROTOCOL|RESTART)")


# --- dns-nsupdate -----------------------------------------------------------------------------

@pytest.fixture
def named(lab):
    missing = examples_dns.available()
    if missing:
        pytest.skip(missing)
    server = examples_dns.Named(lab.net.server, os.path.join(lab.workdir, "named"))
    yield server
    server.close()


@pytest.mark.time_limit(60)
def test_dns_nsupdate_v4(lab, hook_so, named):
    kea = lab.start_kea(example_config(lab, hook_so, "dns-nsupdate", 4, env={"DNS_KEY": str(named.key)}))
    client = lab.dhcp4()
    ack = client.dora("02:aa:bb:cc:dd:01", hostname="Client-A")
    wait_until(lambda: named.dig("client-a.example.org") == [ack.yiaddr], timeout=10, what="the A record")
    assert named.dig(ack.yiaddr, "PTR") == ["client-a.example.org."]
    # A hostile hostname is cut down to a label, never passed to nsupdate as commands.
    evil = client.dora("02:aa:bb:cc:dd:02", hostname="x\nupdate add evil.example.org 1 A 1.2.3.4\nsend")
    wait_until(lambda: named.dig(evil.yiaddr, "PTR"), timeout=10, what="the second client's PTR")
    assert named.dig(evil.yiaddr, "PTR") == ["xupdateaddevil.example.org."]
    assert named.dig("evil.example.org") == []

    client.release("02:aa:bb:cc:dd:01", ack.yiaddr, ack.server_id)
    wait_until(lambda: named.dig("client-a.example.org") == [], timeout=10, what="the A record to go")
    assert named.dig(ack.yiaddr, "PTR") == []
    assert named.dig("xupdateaddevil.example.org") == [evil.yiaddr]
    assert not kea.log_lines("RUNSCRIPT_(EXIT_STATUS|EXEC_FAILED|STDERR)")


@pytest.mark.time_limit(60)
def test_dns_nsupdate_v6(lab, hook_so, named):
    kea = lab.start_kea(example_config(lab, hook_so, "dns-nsupdate", 6, env={"DNS_KEY": str(named.key)},
                                       valid_lifetime=4))
    reply = lab.dhcp6().sarr("02:00:00:00:01:c7", pd=True, fqdn="host6.example.org.")
    (address,) = reply.addresses
    wait_until(lambda: named.dig("host6.example.org", "AAAA") == [address], timeout=10, what="the AAAA record")
    assert named.dig(address, "PTR") == ["host6.example.org."]
    wait_until(lambda: named.dig("host6.example.org", "AAAA") == [], timeout=15, what="expiry to remove it")
    assert named.dig(address, "PTR") == []
    assert not kea.log_lines("RUNSCRIPT_(EXIT_STATUS|EXEC_FAILED|STDERR)")


# --- python-worker ----------------------------------------------------------------------------

def _status(path):
    def read():
        try:
            with open(path) as f:
                return json.load(f)
        except FileNotFoundError:
            return None
    return read


@pytest.mark.time_limit(60)
def test_python_worker_lease_table(lab, hook_so):
    status_file = os.path.join(lab.workdir, "lease-table.json")
    status = _status(status_file)
    kea = lab.start_kea(example_config(lab, hook_so, "python-worker", 4, env={"STATUS_FILE": status_file},
                                       persist=True))
    client = lab.dhcp4()
    first = client.dora("02:aa:bb:cc:dd:01", hostname=b"caf\xe9")  # not UTF-8: bytes arrive as they are
    second = client.dora("02:aa:bb:cc:dd:02", hostname="second")
    client.release("02:aa:bb:cc:dd:02", second.yiaddr, second.server_id)
    table = wait_until(lambda: (s := status()) and s["events"].get("lease4_release") and s, timeout=5,
                       what="the worker to see the release")
    assert list(table["leases"]) == [first.yiaddr]
    lease = table["leases"][first.yiaddr]
    assert lease["hwaddr"] == "02:aa:bb:cc:dd:01"
    assert (lease["client_hostname_hex"], lease["client_hostname"]) == ("636166e9", "caf\\xe9")
    assert lease["hostname"] == "caf"  # Kea's hostname-char-set took the byte out of the lease's
    assert lease["expires"] - lease["cltt"] == 20
    assert table["events"]["lease4_select"] == 4  # two DISCOVERs (nothing allocated), two REQUESTs
    worker = table["pid"]

    # A reconfiguration restarts the worker, whose table starts empty: "replay" refills it.
    kea.reload()
    table = wait_until(lambda: (s := status()) and s["pid"] != worker and s["leases"] and s, timeout=10,
                       what="the new worker's replayed table")
    assert list(table["leases"]) == [first.yiaddr] and table["events"] == {"lease4_replay": 1}
    assert table["leases"][first.yiaddr]["hostname"] == "caf"  # a replay has the lease, not the query
    assert not kea.log_lines("RUNSCRIPT_WORKER_(ANSWER|PROTOCOL|RESTART)|lease-table:")


# --- dnsmasq-compat, dhcpd-compat: old scripts, unchanged -------------------------------------

def _legacy(calls):
    """(argv, env) of each call of the old script, which the lab's recorder stands in for."""
    return [(c.argv, c.env) for c in calls]


@pytest.mark.time_limit(60)
def test_dnsmasq_compat_v4(lab, hook_so):
    rec = lab.recorder("dnsmasq-script")
    kea = lab.start_kea(example_config(lab, hook_so, "dnsmasq-compat", 4, env={"DNSMASQ_SCRIPT": rec.script},
                                       valid_lifetime=5, persist=True))
    client = lab.dhcp4()
    offer = client.relayed_discover("02:aa:bb:cc:dd:ee", circuit_id="eth0/1", subscriber_id="sub-42",
                                    hostname="relayed-host")
    granted = int(time.time())
    relayed = client.relayed_request("02:aa:bb:cc:dd:ee", offer.yiaddr, offer.server_id, circuit_id="eth0/1",
                                     subscriber_id="sub-42", hostname="relayed-host")
    (add,) = rec.wait_for("add")
    assert add.argv == ["add", "02:aa:bb:cc:dd:ee", relayed.yiaddr, "relayed-host"]
    env = add.env
    assert (env["DNSMASQ_CIRCUIT_ID"], env["DNSMASQ_SUBSCRIBER_ID"]) == ("eth0/1", "sub-42")
    assert "DNSMASQ_REMOTE_ID" not in env
    assert (env["DNSMASQ_RELAY_ADDRESS"], env["DNSMASQ_INTERFACE"]) == ("192.0.2.2", "veth-s")
    assert env["DNSMASQ_SUPPLIED_HOSTNAME"] == "relayed-host"
    assert granted + 5 <= int(env["DNSMASQ_LEASE_EXPIRES"]) <= time.time() + 5
    assert 0 <= int(env["DNSMASQ_TIME_REMAINING"]) <= 5

    direct = client.dora("02:aa:bb:cc:dd:01")
    client.renew("02:aa:bb:cc:dd:01", direct.yiaddr)
    client.release("02:aa:bb:cc:dd:01", direct.yiaddr, direct.server_id)
    rec.wait_for("del")
    kea.reload()  # replay: "old", as dnsmasq does for the leases it finds at start-up
    (replayed,) = rec.wait_for("old", count=2)[1:]
    assert replayed.argv == ["old", "02:aa:bb:cc:dd:ee", relayed.yiaddr, "relayed-host"]
    assert replayed.env["DNSMASQ_DATA_MISSING"] == "1" and "DNSMASQ_INTERFACE" not in replayed.env
    rec.wait_for("del", count=2, timeout=15)  # the relayed lease expires
    assert [c.argv[:3] for c in rec.calls()] == [
        ["add", "02:aa:bb:cc:dd:ee", relayed.yiaddr], ["add", "02:aa:bb:cc:dd:01", direct.yiaddr],
        ["old", "02:aa:bb:cc:dd:01", direct.yiaddr], ["del", "02:aa:bb:cc:dd:01", direct.yiaddr],
        ["old", "02:aa:bb:cc:dd:ee", relayed.yiaddr], ["del", "02:aa:bb:cc:dd:ee", relayed.yiaddr]]
    assert not kea.log_lines("RUNSCRIPT_(EXIT_STATUS|EXEC_FAILED|STDERR)")


def test_dnsmasq_compat_v6(lab, hook_so):
    rec = lab.recorder("dnsmasq-script")
    kea = lab.start_kea(example_config(lab, hook_so, "dnsmasq-compat", 6, env={"DNSMASQ_SCRIPT": rec.script}))
    client = lab.dhcp6()
    reply = client.sarr("02:00:00:00:01:c7", pd=True, fqdn="host6.example.org.", iaid_na=7)
    (add,) = rec.wait_for("add")
    assert add.argv == ["add", "00:03:00:01:02:00:00:00:01:c7", reply.addresses[0], "host6.example.org"]
    assert (add.env["DNSMASQ_IAID"], add.env["DNSMASQ_INTERFACE"]) == ("7", "veth-s")
    client.release("02:00:00:00:01:c7", reply)
    (gone,) = rec.wait_for("del")
    assert gone.argv[:3] == ["del", "00:03:00:01:02:00:00:00:01:c7", reply.addresses[0]]
    assert len(rec.calls()) == 2  # the delegated prefix is not passed on
    assert not kea.log_lines("RUNSCRIPT_(EXIT_STATUS|EXEC_FAILED|STDERR)")


@pytest.mark.time_limit(60)
def test_dhcpd_compat_v4(lab, hook_so):
    rec = lab.recorder("dhcp-event")
    kea = lab.start_kea(example_config(lab, hook_so, "dhcpd-compat", 4, env={"DHCPD_PROGRAM": rec.script},
                                       valid_lifetime=4))
    client = lab.dhcp4()
    kept = client.dora("02:aa:bb:cc:dd:01", hostname="pc-1")
    client.renew("02:aa:bb:cc:dd:01", kept.yiaddr, hostname="pc-1")
    released = client.dora("02:aa:bb:cc:dd:02")
    client.release("02:aa:bb:cc:dd:02", released.yiaddr, released.server_id)
    rec.wait_for("release")
    rec.wait_for("expiry", timeout=15)
    assert [c.argv for c in rec.calls()] == [
        ["commit", kept.yiaddr, "02:aa:bb:cc:dd:01", "pc-1", "4"],
        ["commit", kept.yiaddr, "02:aa:bb:cc:dd:01", "pc-1", "4"],
        ["commit", released.yiaddr, "02:aa:bb:cc:dd:02", "", "4"],
        ["release", released.yiaddr, "02:aa:bb:cc:dd:02", "", "0"],
        ["expiry", kept.yiaddr, "02:aa:bb:cc:dd:01", "pc-1", "0"]]
    assert not kea.log_lines("RUNSCRIPT_(EXIT_STATUS|EXEC_FAILED|STDERR)")


def test_dhcpd_compat_v6(lab, hook_so):
    rec = lab.recorder("dhcp-event")
    kea = lab.start_kea(example_config(lab, hook_so, "dhcpd-compat", 6, env={"DHCPD_PROGRAM": rec.script}))
    client = lab.dhcp6()
    reply = client.sarr("02:00:00:00:01:c7", pd=True)
    client.release("02:00:00:00:01:c7", reply)
    rec.wait_for("release", count=2)
    duid = "00:03:00:01:02:00:00:00:01:c7"
    assert sorted(c.argv for c in rec.calls()) == sorted([
        ["commit", reply.addresses[0], duid, "", "20"], ["commit", reply.prefixes[0], duid, "", "20"],
        ["release", reply.addresses[0], duid, "", "0"], ["release", reply.prefixes[0], duid, "", "0"]])
    assert not kea.log_lines("RUNSCRIPT_(EXIT_STATUS|EXEC_FAILED|STDERR)")


# --- the fragments are what the READMEs show --------------------------------------------------

@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_readme_shows_the_fragment(name):
    """The README names each fragment, and shows one of them exactly (as a ```json block)."""
    readme = (EXAMPLES / name / "README.md").read_text()
    shown = []
    for block in re.findall(r"^```json\n(.*?)^```$", readme, re.M | re.S):
        try:
            shown.append(json.loads(block))
        except ValueError:
            pass  # e.g. JSON lines
    fragments = []
    for path in sorted((EXAMPLES / name).glob("kea-dhcp*.json")):
        assert path.name in readme
        fragments.append(fragment(name, int(path.name[len("kea-dhcp")])))
    assert any(f in shown for f in fragments), f"{name}/README.md shows none of its fragments as they are"
