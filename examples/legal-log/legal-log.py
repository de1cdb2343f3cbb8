#!/usr/bin/python3
"""kea-hook-runscript example: a legal (forensic) lease log, one JSON line per lease event.

Runs as a persistent worker ("mode": "worker", "format": "json"): Kea starts it once and writes
every event to its stdin as one JSON object per line, {"hook": ..., "env": {"KEA_...": ...}}; it
answers each with a line "0" once the record is written (anything else: failure, logged by Kea).
With "wait": true Kea sends its reply to the client only after the record is on disk.

Each record holds: time (UTC), event (assign, renew, rebind, release, decline, expire, active for a
replayed lease), family, address or delegated prefix, MAC / client-id / DUID, hostname, lifetimes,
subnet id, and where the client is: option 82 circuit-id / remote-id / subscriber-id for DHCPv4
relays, interface-id / remote-id / subscriber-id (options 18, 37, 38) of every DHCPv6 relay hop.
Relay identifiers are kept as Kea gives them (0x-hex) plus, when printable, as text.

Settings, in the hook's "env": LEGAL_LOG (the file, default /var/log/kea/legal-log.jsonl),
LEGAL_LOG_FSYNC (1: fsync every record; default 0). The file is reopened when it is rotated
(renamed or removed), so logrotate needs no signal. Messages for Kea's log go to stderr.
"""

import json
import os
import sys
from datetime import datetime, timezone

LOG_PATH = os.environ.get("LEGAL_LOG", "/var/log/kea/legal-log.jsonl")
FSYNC = os.environ.get("LEGAL_LOG_FSYNC", "0") == "1"

EVENTS = {
    "lease4_select": "assign", "lease4_renew": "renew", "lease4_release": "release",
    "lease4_decline": "decline", "lease4_expire": "expire", "lease4_replay": "active",
    "lease6_select": "assign", "lease6_renew": "renew", "lease6_rebind": "rebind",
    "lease6_release": "release", "lease6_decline": "decline", "lease6_expire": "expire",
    "lease6_replay": "active",
}


def text(value):
    """A client-supplied string as clean text: the hook hands over raw bytes (those that are not
    UTF-8 as surrogate escapes, see the README); anything unprintable becomes \\xHH."""
    if value is None:
        return None
    raw = value.encode("utf-8", "surrogateescape")
    return "".join(chr(b) if 0x20 <= b < 0x7f and b != 0x5c else f"\\x{b:02x}" for b in raw)


def hex_and_text(value):
    """Kea's 0x-hex of a relay identifier, and its text when all of it is printable ASCII."""
    if value is None:
        return None, None
    try:
        raw = bytes.fromhex(value[2:] if value.lower().startswith("0x") else value)
    except ValueError:
        return value, None
    printable = raw and all(0x20 <= b < 0x7f for b in raw)
    return value, raw.decode("ascii") if printable else None


def integer(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def put_id(record, name, value):
    """`name` (0x-hex) and `name`_text (if printable), only when the relay sent it."""
    hexed, printable = hex_and_text(value)
    if hexed is not None:
        record[name] = hexed
        if printable is not None:
            record[name + "_text"] = printable


def record4(hook, env):
    record = {
        "address": env.get("KEA_LEASE4_ADDRESS"),
        "hwaddr": env.get("KEA_LEASE4_HWADDR") or env.get("KEA_QUERY4_HWADDR"),
        "client_id": env.get("KEA_LEASE4_CLIENT_ID") or None,
        "hostname": text(env.get("KEA_LEASE4_HOSTNAME")) or None,
        "valid_lifetime": integer(env.get("KEA_LEASE4_VALID_LIFETIME")),
        "subnet_id": integer(env.get("KEA_LEASE4_SUBNET_ID")),
    }
    if env.get("KEA_QUERY4_RELAYED") == "1":
        relay = {"giaddr": env.get("KEA_QUERY4_GIADDR")}
        put_id(relay, "circuit_id", env.get("KEA_QUERY4_RAI_CIRCUIT_ID"))
        put_id(relay, "remote_id", env.get("KEA_QUERY4_RAI_REMOTE_ID"))
        put_id(relay, "subscriber_id", env.get("KEA_QUERY4_RAI_SUBSCRIBER_ID"))
        record["relay"] = relay
    return record


def record6(hook, env):
    record = {"type": env.get("KEA_LEASE6_TYPE")}
    if env.get("KEA_LEASE6_DELEGATED_PREFIX"):
        record["prefix"] = env["KEA_LEASE6_DELEGATED_PREFIX"]
    else:
        record["address"] = env.get("KEA_LEASE6_ADDRESS")
    record.update({
        "duid": env.get("KEA_LEASE6_CLIENT_DUID") or env.get("KEA_QUERY6_DUID"),
        "iaid": integer(env.get("KEA_LEASE6_IAID")),
        "hwaddr": env.get("KEA_LEASE6_HWADDR") or None,
        "hostname": text(env.get("KEA_LEASE6_HOSTNAME")) or None,
        "valid_lifetime": integer(env.get("KEA_LEASE6_VALID_LIFETIME")),
        "preferred_lifetime": integer(env.get("KEA_LEASE6_PREFERRED_LIFETIME")),
        "subnet_id": integer(env.get("KEA_LEASE6_SUBNET_ID")),
    })
    # Hop 0 is the relay nearest the client: the one that knows its port and line.
    relays = []
    for hop in range(integer(env.get("KEA_QUERY6_RELAY_HOPS")) or 0):
        prefix = f"KEA_QUERY6_RELAY{hop}_"
        relay = {"link_address": env.get(prefix + "LINK_ADDRESS"),
                 "peer_address": env.get(prefix + "PEER_ADDRESS")}
        put_id(relay, "interface_id", env.get(prefix + "INTERFACE_ID"))
        put_id(relay, "remote_id", env.get(prefix + "REMOTE_ID"))
        put_id(relay, "subscriber_id", env.get(prefix + "SUBSCRIBER_ID"))
        relays.append(relay)
    if relays:
        record["relays"] = relays
    return record


def wanted(hook, env):
    """Only what really changed a lease: not the DISCOVER / SOLICIT probes."""
    if hook in ("lease4_select", "lease6_select"):
        return env.get("KEA_FAKE_ALLOCATION") == "0"
    if hook == "lease4_renew":  # Kea 2.2 also calls it for a DISCOVER from a known client
        return env.get("KEA_QUERY4_TYPE") == "DHCPREQUEST"
    if hook in ("lease4_expire", "lease6_expire"):
        return not released_earlier(hook, env)
    return hook in EVENTS


def released_earlier(hook, env):
    """From Kea 2.3.2 on, with Kea's default expired-leases-processing, a released lease is kept
    with a lifetime of 0 ("released" from 3.0) and expires later: its release is logged already."""
    family = "4" if hook.startswith("lease4") else "6"
    return (env.get(f"KEA_LEASE{family}_STATE") == "released"
            or env.get(f"KEA_LEASE{family}_VALID_LIFETIME") == "0")


class Log:
    """The log file, reopened when logrotate (or anyone) moved it away."""

    def __init__(self, path):
        self.path = path
        self.file = None

    def write(self, line):
        if self.file is not None:
            try:
                moved = os.stat(self.path).st_ino != os.fstat(self.file.fileno()).st_ino
            except FileNotFoundError:
                moved = True
            if moved:
                self.file.close()
                self.file = None
        if self.file is None:
            self.file = open(self.path, "a", encoding="utf-8")
        self.file.write(line + "\n")
        self.file.flush()
        if FSYNC:
            os.fsync(self.file.fileno())


def main():
    log = Log(LOG_PATH)
    # Text mode would choke on bytes that are not UTF-8; the hook escapes them, so every line is
    # plain ASCII or UTF-8 JSON.
    for line in sys.stdin.buffer:
        answer = "0"
        try:
            event = json.loads(line)
            hook, env = event["hook"], event["env"]
            if wanted(hook, env):
                now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
                record = {"time": now.replace("+00:00", "Z"), "event": EVENTS[hook],
                          "family": 4 if hook.startswith("lease4") else 6}
                record.update(record4(hook, env) if record["family"] == 4 else record6(hook, env))
                log.write(json.dumps({k: v for k, v in record.items() if v is not None}))
        except Exception as exc:  # keep serving: one bad event must not stop the log
            print(f"legal-log: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            answer = "1"
        sys.stdout.write(answer + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
