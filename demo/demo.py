#!/usr/bin/python3
"""`make demo` (or `./run demo`): kea-hook-runscript on a real Kea, with real clients.

Starts kea-dhcp4 and kea-dhcp6 with the hook library in a private pair of
network namespaces (tests/lab), runs a few devices through a whole lease
lifecycle -- join, renew, rebind, release, decline, expiry, recovery -- and
shows, live, one line per run of the hook script (demo/show-event.sh).
Everything it starts is stopped and removed at the end, also on Ctrl-C.

    /usr/bin/python3 demo/demo.py [--keep] [--no-color] [--fast]

Needs root (namespaces), Kea 2.2, dhclient and python3-scapy: `./run demo`
installs them on Debian 12.
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOOK_SO = REPO / "build" / "kea-hook-runscript.so"
STATUS_TOOL = REPO / "build" / "kea-runscript-status"
SCRIPT = REPO / "demo" / "show-event.sh"
LEASE_LOG_SCRIPT = REPO / "demo" / "lease-log.sh"

# The 19 hook points of the original kea-hook-runscript; the demo also asks for
# leases4_committed / leases6_committed and load / unload.
V4_HOOKS = ["pkt4_receive", "subnet4_select", "lease4_select", "lease4_renew", "lease4_release",
            "lease4_decline", "lease4_expire", "lease4_recover", "pkt4_send"]
V6_HOOKS = ["pkt6_receive", "subnet6_select", "lease6_select", "lease6_renew", "lease6_rebind",
            "lease6_release", "lease6_decline", "lease6_expire", "lease6_recover", "pkt6_send"]

# Devices: MAC addresses of the scapy-built clients (dhclient uses veth-c's own).
TV, PRINTER, PHONE = "02:00:5e:10:00:07", "02:00:5e:10:00:08", "02:00:5e:10:00:09"
ROUTER2, SETTOP = "02:00:5e:60:00:02", "02:00:5e:60:00:03"


# --- presentation -----------------------------------------------------------------

class Style:
    """ANSI styles, or nothing when stdout is not a terminal."""

    CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34",
             "magenta": "35", "cyan": "36", "bgreen": "1;32", "bcyan": "1;36", "bred": "1;31"}

    def __init__(self, enabled):
        self.enabled = enabled

    def __call__(self, style, text):
        if not self.enabled or not style:
            return text
        return "".join(f"\033[{self.CODES[s]}m" for s in style.split()) + text + "\033[0m"


def hook_style(hook):
    if hook.startswith("pkt"):
        return "dim"
    if "select" in hook and hook.startswith("subnet"):
        return "cyan"
    if hook.startswith("leases"):
        return "bgreen"
    for word, style in (("select", "green"), ("renew", "green"), ("rebind", "green"), ("release", "yellow"),
                        ("decline", "red"), ("expire", "magenta"), ("recover", "bcyan")):
        if word in hook:
            return style
    return "bold"  # load, unload


class Console:
    """Everything the demo prints goes through here: one lock, so that the
    event lines of the reader thread never cut a heading in two. On a
    terminal, event lines are cut to its width rather than wrapped."""

    def __init__(self, style, width=None, pause=0.0):
        self.s = style
        self.width = width
        self.pause = pause
        self.lock = threading.Lock()
        self.rule = "\u2500" if (sys.stdout.encoding or "").lower().replace("-", "") == "utf8" else "-"

    def print(self, text=""):
        with self.lock:
            print(text, flush=True)

    def block(self, lines):
        """Lines printed together: no event line comes between them."""
        with self.lock:
            for line in lines:
                print(line)
            sys.stdout.flush()

    def heading(self, number, title, explanation):
        s = self.s
        if number and self.pause:
            time.sleep(self.pause)  # on a terminal: time to read the last phase
        self.print()
        text = f"{self.rule * 2} {number} {self.rule} {title} "
        self.print(s("bold cyan", text + self.rule * max(3, min(self.width or 100, 100) - len(text))))
        for line in explanation.splitlines():
            self.print(s("dim", f"   {line}"))

    def event(self, fields):
        s = self.s
        when, family, hook, mac, addr, detail = fields
        head = f"{when:<12}  {family:<2}  {hook:<17}  {mac:<17}  {addr:<22}  "
        if self.width and len(head) + len(detail) > self.width:
            detail = detail[:max(0, self.width - len(head) - 1)] + "\u2026"
        self.print("  ".join([
            s("dim", f"{when:<12}"),
            s("blue" if family == "v4" else "magenta", f"{family:<2}"),
            s(hook_style(hook), f"{hook:<17}"),
            f"{mac:<17}",
            s("bold", f"{addr:<22}"),
            s("dim" if hook.startswith("pkt") else "", detail),
        ]).rstrip())

    def column_titles(self):
        self.print(self.s("dim", "  ".join([f"{'time':<12}", "  ", f"{'hook point ($1)':<17}", f"{'client':<17}",
                                            f"{'address':<22}", "details"])))


class EventFeed:
    """Tails the file the hook script appends to and prints each event as
    soon as it is there (a background thread). Keeps every event for
    waiting and for the summary."""

    def __init__(self, path, console):
        self.path = path
        self.console = console
        self.events = []  # (time, family, hook, mac, address, detail)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._last_arrival = time.monotonic()
        open(path, "w").close()
        self._thread = threading.Thread(target=self._run, name="event-feed", daemon=True)
        self._thread.start()

    def _run(self):
        pending = b""
        with open(self.path, "rb") as f:
            while not self._stop.is_set():
                chunk = f.read()
                if not chunk:
                    time.sleep(0.02)
                    continue
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    fields = line.decode(errors="replace").split("\t")
                    fields = (fields + [""] * 6)[:6] if len(fields) != 6 else fields
                    self.console.event(fields)
                    with self._cond:
                        self.events.append(tuple(fields))
                        self._last_arrival = time.monotonic()
                        self._cond.notify_all()

    def wait_for(self, hook, address=None, count=1, mentions=None, timeout=10):
        """Wait until `count` events of `hook` were shown (only those for
        `address`, or whose details mention `mentions`, if given)."""
        def matches():
            return sum(1 for e in self.events if e[2] == hook and address in (None, e[4])
                       and (mentions is None or mentions in e[5].split())) >= count
        with self._cond:
            if not self._cond.wait_for(matches, timeout=timeout):
                raise TimeoutError(f"no {hook} event for {address or mentions or 'anyone'} within {timeout}s")

    def settle(self, quiet=0.25, timeout=5):
        """Wait until no event came for `quiet` seconds (so that a phase's
        last lines are printed before the next heading)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                idle = time.monotonic() - self._last_arrival
            if idle >= quiet:
                return
            time.sleep(quiet - idle)

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=2)


# --- clients the lab does not have: ones that ask for short lifetimes -----------------

def short_dora4(lab, mac, lease_time, hostname, timeout=3.0):
    """DISCOVER + REQUEST asking for `lease_time` seconds (option 51); Kea
    grants it within min-valid-lifetime..max-valid-lifetime. Returns the
    address, or raises."""
    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from lab.wait import datagrams

    with lab.net.client.entered():
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
        sock.bind(("veth-c", 0x0800))
    try:
        def exchange(msg_type, extra):
            xid = random.getrandbits(32)
            bootp = BOOTP(op=1, htype=1, hlen=6, xid=xid, chaddr=bytes.fromhex(mac.replace(":", "")) + bytes(10))
            bootp /= DHCP(options=[("message-type", msg_type), ("lease_time", lease_time),
                                   ("hostname", hostname.encode()), *extra, "end"])
            sock.send(bytes(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255")
                            / UDP(sport=68, dport=67) / bootp))
            for data in datagrams(sock, timeout):
                reply = Ether(data).getlayer(BOOTP)
                if reply is not None and reply.op == 2 and reply.xid == xid:
                    return reply
            raise RuntimeError(f"no answer to {msg_type} for {mac}")

        offer = exchange("discover", [])
        server_id = dict(o for o in offer[DHCP].options if isinstance(o, tuple) and len(o) == 2)["server_id"]
        exchange("request", [("requested_addr", offer.yiaddr), ("server_id", server_id)])
        return offer.yiaddr
    finally:
        sock.close()


class ShortLived6:
    """A DHCPv6 client asking for an address and a prefix with short
    lifetimes (as hints in IAADDR / IAPREFIX, which Kea honours within
    min-/max-valid-lifetime); SOLICIT, REQUEST, RENEW and REBIND."""

    def __init__(self, lab, mac, valid, preferred, fqdn, timeout=3.0):
        from scapy.layers import dhcp6 as d6
        from lab.dhcp6 import LinkLocalSender
        self.d6 = d6
        self.mac, self.valid, self.preferred, self.fqdn = mac, valid, preferred, fqdn
        self.address = self.prefix = "::"
        self.plen = 0
        self.server_id = None
        self.sender = LinkLocalSender(lab.net, timeout)

    def close(self):
        self.sender.close()

    def _send(self, cls, with_server_id=True):
        d6 = self.d6
        msg = cls(trid=random.getrandbits(24))
        msg /= d6.DHCP6OptClientId(duid=d6.DUID_LL(lladdr=self.mac))
        msg /= d6.DHCP6OptElapsedTime(elapsedtime=0)
        msg /= d6.DHCP6OptIA_NA(iaid=1, ianaopts=[
            d6.DHCP6OptIAAddress(addr=self.address, preflft=self.preferred, validlft=self.valid)])
        msg /= d6.DHCP6OptIA_PD(iaid=2, iapdopt=[
            d6.DHCP6OptIAPrefix(prefix=self.prefix, plen=self.plen, preflft=self.preferred, validlft=self.valid)])
        msg /= d6.DHCP6OptClientFQDN(flags="S", fqdn=self.fqdn)
        if with_server_id and self.server_id is not None:
            msg /= self.server_id
        for reply in self.sender.replies(546, msg):
            if reply.msgtype in (2, 7) and reply.trid == msg.trid:  # ADVERTISE, REPLY
                self.address = reply[d6.DHCP6OptIAAddress].addr
                self.prefix, self.plen = reply[d6.DHCP6OptIAPrefix].prefix, reply[d6.DHCP6OptIAPrefix].plen
                server_id = reply[d6.DHCP6OptServerId].copy()
                server_id.remove_payload()
                self.server_id = server_id
                return reply
        raise RuntimeError(f"no answer to {cls.__name__} for {self.mac}")

    def solicit(self):
        self._send(self.d6.DHCP6_Solicit, with_server_id=False)

    def request(self):
        self._send(self.d6.DHCP6_Request)

    def renew(self):
        self._send(self.d6.DHCP6_Renew)

    def rebind(self):
        self._send(self.d6.DHCP6_Rebind, with_server_id=False)


# --- the story ----------------------------------------------------------------------------

def show_configuration(con, params):
    """The v4 hook entry as it is in Kea's configuration."""
    shown, logged = params["scripts"]
    hooks = json_list(shown["hooks"], indent=19)
    con.print(con.s("dim", "The hook in kea-dhcp4's configuration (kea-dhcp6's has the v6 hook points, and no lease log):"))
    for line in [
        '"hooks-libraries": [{',
        f'    "library": "{HOOK_SO}",',
        '    "parameters": {"scripts": [',
        f'        {{"script": "{shown["script"]}",',
        f'         "wait": true, "timeout-ms": {shown["timeout-ms"]},',
        f'         "hooks": {hooks},',
        f'         "env": {json.dumps(shown["env"])}}},',
        f'        {{"script": "{logged["script"]}",',
        f'         "wait": false, "hooks": {json.dumps(logged["hooks"])},',
        f'         "env": {json.dumps(logged["env"])}}}',
        '    ]}',
        '}]',
    ]:
        con.print("    " + line)


def json_list(items, indent, width=100):
    """A JSON list of strings, wrapped at `width` with continuation lines indented."""
    lines, line = [], "["
    for i, item in enumerate(items):
        word = json.dumps(item) + ("," if i < len(items) - 1 else "]")
        if len(line) + 1 + len(word) + indent + 4 > width and line != "[":
            lines.append(line)
            line = " " + word
        else:
            line += ("" if line == "[" else " ") + word
    lines.append(line)
    return ("\n" + " " * (indent + 3)).join(lines)


def kea_configs(lab, script, lease_log, events):
    from lab import hook

    def params(family, hooks):
        return {"script": script, "wait": True, "timeout-ms": 2000, "hooks": hooks,
                "env": {"DEMO_EVENTS": events, "DEMO_FAMILY": family}}

    # kea-dhcp4 also has a script it does not wait for, so that kea-runscript-status shows one
    # with a queue.
    log4 = {"script": lease_log, "wait": False, "hooks": ["leases4_committed"],
            "env": {"DEMO_LEASE_LOG": os.path.join(lab.workdir, "leases.log")}}

    # Long leases by default (nothing renews or expires unless the story says
    # so); clients may ask for as little as 4 s. Declined addresses are
    # quarantined for 5 s, so that everything that ends by itself ends in
    # the "Time passes" phase.
    config4 = lab.config4(valid_lifetime=600, log_debuglevel=0,
                          hooks=[hook(HOOK_SO, scripts=[
                              params("v4", V4_HOOKS + ["leases4_committed", "load", "unload"]), log4])],
                          **{"min-valid-lifetime": 4, "max-valid-lifetime": 600, "decline-probation-period": 5})
    config6 = lab.config6(valid_lifetime=600, log_debuglevel=0,
                          hooks=[hook(HOOK_SO, **params("v6", V6_HOOKS + ["leases6_committed", "load", "unload"]))],
                          **{"preferred-lifetime": 450, "min-valid-lifetime": 4, "max-valid-lifetime": 600,
                             "decline-probation-period": 5,
                             "min-preferred-lifetime": 2, "max-preferred-lifetime": 450})
    return config4, config6


def story(lab, con, feed, scripts):
    """The phases, one after the other; each waits for the events it causes."""
    config4, config6 = kea_configs(lab, *scripts, feed.path)
    laptop_mac = lab.net.client.mac("veth-c")
    show_configuration(con, config4["Dhcp4"]["hooks-libraries"][0]["parameters"])

    con.heading(0, "Kea starts", "kea-dhcp4 and kea-dhcp6 load the library; it runs the script with $1 = load.")
    con.column_titles()
    kea4 = lab.start_kea(config4)
    kea6 = lab.start_kea(config6)
    feed.wait_for("load", count=2)
    feed.settle()

    con.heading(1, "A laptop joins the network (dhclient, DHCPv4)",
                "DISCOVER -> OFFER -> REQUEST -> ACK: the script runs at each hook point on the way.")
    dhclient = lab.dhclient("laptop")
    with open(dhclient.config, "w") as f:
        f.write('send host-name "laptop";\n')
    laptop4 = dhclient.lease4()
    feed.wait_for("leases4_committed")
    feed.settle()

    con.heading(2, "It renews its lease", "A unicast REQUEST from the leased address, as at half of the lease time.")
    client4 = lab.dhcp4()
    ack = client4.renew(laptop_mac, laptop4, hostname="laptop")
    assert ack and ack.type == "DHCPACK", ack
    feed.wait_for("lease4_renew")
    feed.settle()

    con.heading(3, "The laptop also asks for IPv6: an address and a /56 prefix (dhclient -6 -N -P)",
                "SOLICIT -> ADVERTISE -> REQUEST -> REPLY, one lease6_select per address and per prefix.")
    dhclient.lease6(na=True, pd=True)
    feed.wait_for("leases6_committed")
    feed.settle()

    con.heading(4, "A TV behind a relay agent joins (DHCPv4, option 82)",
                "The relay puts its address in giaddr: Kea picks the relayed subnet 10.0.0.0/8.")
    offer = client4.relayed_discover(TV, circuit_id="port-7", remote_id=b"\x00\x5e\x10", hostname="tv")
    ack = client4.relayed_request(TV, offer.yiaddr, offer.server_id, circuit_id="port-7", hostname="tv")
    assert ack and ack.type == "DHCPACK", ack
    feed.wait_for("leases4_committed", mentions="+" + ack.yiaddr)
    feed.settle()

    con.heading(5, "The laptop shuts down cleanly (dhclient -r, dhclient -6 -r)",
                "RELEASE: the addresses and the prefix go back to the pools.")
    dhclient.release4()
    feed.wait_for("lease4_release", address=laptop4)
    dhclient.release6(na=True, pd=True)
    feed.wait_for("lease6_release", count=2)
    feed.settle()

    con.heading(6, "A printer and a set-top box find their new address already in use (DECLINE)",
                "Kea quarantines a declined address for decline-probation-period (5 s here).")
    ack = client4.dora(PRINTER, hostname="printer")
    client4.decline(PRINTER, ack.yiaddr, ack.server_id)
    printer4 = ack.yiaddr
    feed.wait_for("lease4_decline", address=printer4)
    client6 = lab.dhcp6()
    box = client6.sarr(SETTOP, na=True)
    declined6 = client6.decline(SETTOP, box)
    assert declined6 is not None, "no answer to the DECLINE"
    client6.close()  # frees port 546 for the next client
    feed.wait_for("lease6_decline", address=box.addresses[0])
    feed.settle()

    con.heading(7, "A home router takes an address and a prefix for 6 s, renews, then rebinds",
                "RENEW goes to the server that granted the leases; REBIND, later, to any server.")
    router = ShortLived6(lab, ROUTER2, valid=6, preferred=4, fqdn="router.home.")
    try:
        router.solicit()
        router.request()
        router.renew()
        router.rebind()
    finally:
        router.close()
    feed.wait_for("lease6_rebind", count=2)
    feed.settle()

    con.heading(8, "A phone asks for a 4-second lease, then walks away",
                "No renewal, no release: the lease just runs out.")
    phone4 = short_dora4(lab, PHONE, lease_time=4, hostname="phone")
    feed.wait_for("leases4_committed", mentions="+" + phone4)
    feed.settle()

    con.heading(9, "Meanwhile, an operator asks Kea how its scripts are doing",
                "kea-runscript-status sends runscript-status to Kea's control socket and prints one line per script:\n"
                "the one kea-dhcp4 waits for (exec/wait), with its runs so far, and the lease log it does not wait\n"
                "for (exec/async), with its queue, its spool and the events delivered to it.")
    show_status(con, kea4)

    con.heading(10, "Time passes",
                "Every second Kea reclaims expired leases (lease*_expire) and ends quarantines (lease*_recover).\n"
                "Waiting for the phone's and the router's leases, and for both declined addresses...")
    feed.wait_for("lease4_expire", address=phone4, timeout=15)
    feed.wait_for("lease4_recover", address=printer4, timeout=15)
    feed.wait_for("lease6_expire", address=router.address, timeout=15)
    feed.wait_for("lease6_expire", address=f"{router.prefix}/{router.plen}", timeout=15)
    feed.wait_for("lease6_recover", address=box.addresses[0], timeout=15)
    feed.settle(quiet=0.5)

    con.heading(11, "Kea stops", "At shutdown Kea unloads the library, which runs the script with $1 = unload.")
    kea4.stop()
    kea6.stop()
    feed.wait_for("unload", count=2)
    feed.settle()


def show_status(con, kea):
    """The operator's tool, run as an operator would, its output in the story."""
    result = subprocess.run([str(STATUS_TOOL), kea.socket_path], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"kea-runscript-status exited with {result.returncode}: {result.stderr.strip()}")
    con.block([con.s("dim", f"    $ kea-runscript-status {kea.socket_path}")]
              + [f"    {line}" for line in result.stdout.splitlines()])


def summary(con, feed, elapsed):
    s = con.s
    counts = Counter(e[2] for e in feed.events)
    rows = list(zip(V4_HOOKS[:4] + [None] + V4_HOOKS[4:] + ["leases4_committed"],
                    V6_HOOKS + ["leases6_committed"]))
    con.print()
    con.print(s("bold", f"Summary: {len(feed.events)} script runs in {elapsed:.1f} s"))

    def cell(hook):
        if hook is None:
            return " " * 24
        n = counts.get(hook, 0)
        text = f"{hook:<18}{n:>4}"
        return s("" if n else "bred", text) + ("  " if n else s("bred", " !"))

    con.print(s("dim", f"    {'DHCPv4':<24}    DHCPv6"))
    for v4, v6 in rows:
        con.print(f"    {cell(v4)}    {cell(v6)}".rstrip())
    con.print(f"    {'load':<18}{counts.get('load', 0):>4}      {'unload':<18}{counts.get('unload', 0):>4}")
    missing = [h for h in V4_HOOKS + V6_HOOKS if not counts.get(h)]
    con.print()
    if missing:
        con.print(s("bred", f"{19 - len(missing)} of the 19 hook points seen; not seen: {', '.join(missing)}"))
    else:
        con.print(s("bgreen", "All 19 hook points of the original kea-hook-runscript were seen,"))
        con.print("and the newer ones: leases4_committed, leases6_committed, load and unload.")
    return not missing


def save_logs(workdir):
    """Copy Kea's configs and logs and the events out of the work directory
    (which the lab removes) for a post-mortem; return where they went."""
    dest = f"/tmp/kea-hook-runscript-demo-{os.getpid()}"
    os.makedirs(dest, exist_ok=True)
    for name in os.listdir(workdir):
        if name.endswith((".json", ".log", ".out", ".tsv")):
            shutil.copy(os.path.join(workdir, name), dest)
    return dest


def preflight():
    problems = []
    if os.geteuid() != 0:
        problems.append("run as root: the demo creates network namespaces and starts Kea")
    for built in (HOOK_SO, STATUS_TOOL):
        if not built.exists():
            problems.append(f"{built} is not built: run `make` (or `make demo`)")
    for tool in ("kea-dhcp4", "kea-dhcp6", "dhclient", "ip"):
        if not shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin"):
            problems.append(f"{tool} is missing: `./run demo` installs what the demo needs")
    try:
        import scapy  # noqa: F401
    except ImportError:
        problems.append(f"scapy is missing for {sys.executable}: use /usr/bin/python3 with python3-scapy "
                        "(`./run demo` installs it)")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the work directory (Kea's configs and logs)")
    parser.add_argument("--no-color", action="store_true", help="no colors, even on a terminal")
    parser.add_argument("--fast", action="store_true", help="no pause between phases (there is none when piped)")
    args = parser.parse_args()

    sys.stdout.reconfigure(errors="replace")
    problems = preflight()
    if problems:
        for problem in problems:
            print(f"demo: {problem}", file=sys.stderr)
        return 2

    sys.path.insert(0, str(REPO / "tests"))
    from lab import Lab

    tty = sys.stdout.isatty()
    style = Style(tty and not args.no_color and os.environ.get("TERM") != "dumb" and "NO_COLOR" not in os.environ)
    con = Console(style, width=shutil.get_terminal_size().columns if tty else None,
                  pause=0.8 if tty and not args.fast else 0.0)
    version = subprocess.run(["kea-dhcp4", "-v"], capture_output=True, text=True).stdout.strip()
    con.print(style("bold", "kea-hook-runscript demo"))
    con.print(f"Kea {version} (kea-dhcp4 and kea-dhcp6) runs in a private pair of network namespaces with")
    con.print(f"{HOOK_SO.relative_to(REPO)} loaded; real clients (dhclient) and crafted ones (scapy) talk to it.")
    con.print(f"Each line below is one run of {SCRIPT.relative_to(REPO)}, printed live as Kea runs it.")

    started = time.monotonic()
    complete = False
    interrupted = False
    with Lab(keep_workdir=args.keep) as lab:
        # Kea runs copies in the work directory (its scripts directory, for Kea 3.0); where to
        # write goes in through "env".
        scripts = []
        for original in (SCRIPT, LEASE_LOG_SCRIPT):
            scripts.append(os.path.join(lab.scripts_dir, original.name))
            shutil.copyfile(original, scripts[-1])
            os.chmod(scripts[-1], 0o755)
        feed = EventFeed(os.path.join(lab.workdir, "events.tsv"), con)
        try:
            story(lab, con, feed, scripts)
            complete = summary(con, feed, time.monotonic() - started)
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the cleanup finish
            interrupted = True
            con.print()
            con.print(style("yellow", "Interrupted: stopping Kea and the clients, removing the namespaces..."))
        except Exception as exc:
            saved = save_logs(lab.workdir)
            con.print()
            con.print(style("bred", f"The demo failed: {type(exc).__name__}: {exc}"))
            con.print(f"Kea's configurations and logs are kept in {saved}")
            raise
        finally:
            feed.stop()
        if args.keep:
            con.print(style("dim", f"Kept: {lab.workdir} (Kea's configs and logs, events.tsv)"))
    if interrupted:
        con.print("Cleaned up.")
        return 130
    con.print(style("dim", "Everything the demo started was stopped and removed."))
    con.print(f"Next: {SCRIPT.relative_to(REPO)} shows how a script reads the KEA_* variables; README.md lists them all.")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
