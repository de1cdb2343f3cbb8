#!/usr/bin/python3
"""kea-hook-runscript example: a Python worker that keeps a table of active leases.

A worker ("mode": "worker") is started once, when Kea loads the library, and reads every event on
its stdin, so Python's start-up (tens of milliseconds) is paid once, not per event. With
"format": "json" each event is one line, {"hook": "lease4_select", "env": {"KEA_...": "..."}};
the worker answers each with a line holding 0 (success) or anything else (failure, logged).

This one keeps the leases Kea has handed out in memory (a dict), and after every change writes
them to STATUS_FILE as JSON (via a temporary file and a rename, so a reader never sees half a
file): a start for a dashboard, a metrics exporter or a sync to another system. With
"replay": true the table is refilled from Kea's lease database whenever the worker starts again.

Client strings (hostnames) are bytes, not necessarily UTF-8: the hook writes the bytes that are
not UTF-8 as surrogate escapes (\\udcXX), so value.encode("utf-8", "surrogateescape") gives back
exactly what the client sent. The status file keeps them as hex, plus a readable form: the
hostname Kea stored in the lease (cleaned up by Kea's hostname-char-set) and, for DHCPv4, the
client's option 12 exactly as it came.

Settings, in the hook's "env": STATUS_FILE (default /run/kea/lease-table.json).
"""

import json
import os
import sys
import time

STATUS_FILE = os.environ.get("STATUS_FILE", "/run/kea/lease-table.json")

leases = {}  # address or prefix -> what we know of the lease
counts = {}  # hook point -> events seen


def client_bytes(value):
    """The exact bytes behind a value the hook sent (see the module's docstring)."""
    return (value or "").encode("utf-8", "surrogateescape")


def text_field(field, value):
    """{field: readable text, field_hex: the exact bytes in hex}, or {} for no value."""
    raw = client_bytes(value)
    return {field: raw.decode("utf-8", "backslashreplace"), field + "_hex": raw.hex()} if raw else {}


def granted(hook, env):
    """True for an event that gives a client a lease (not a DISCOVER / SOLICIT probe)."""
    if hook in ("lease4_select", "lease6_select"):
        return env.get("KEA_FAKE_ALLOCATION") == "0"
    if hook == "lease4_renew":  # Kea 2.2 also calls it for a DISCOVER from a known client
        return env.get("KEA_QUERY4_TYPE") == "DHCPREQUEST"
    return hook in ("lease6_renew", "lease6_rebind", "lease4_replay", "lease6_replay")


def ended(hook):
    return hook.split("_", 1)[1] in ("release", "decline", "expire")


def lease_of(hook, env):
    """(key, record) for the lease this event is about."""
    if hook.startswith("lease4"):
        key = env["KEA_LEASE4_ADDRESS"]
        record = {"family": 4, "hwaddr": env.get("KEA_LEASE4_HWADDR", ""),
                  "client_id": env.get("KEA_LEASE4_CLIENT_ID", ""),
                  "valid_lifetime": int(env.get("KEA_LEASE4_VALID_LIFETIME") or 0),
                  "cltt": int(env.get("KEA_LEASE4_CLIENT_LAST_TRANSMISSION") or 0),
                  # The lease's hostname is Kea's cleaned-up copy (hostname-char-set); option 12
                  # is what the client sent, byte for byte.
                  **text_field("hostname", env.get("KEA_LEASE4_HOSTNAME")),
                  **text_field("client_hostname", env.get("KEA_QUERY4_HOSTNAME"))}
    else:
        key = env.get("KEA_LEASE6_DELEGATED_PREFIX") or env["KEA_LEASE6_ADDRESS"]
        record = {"family": 6, "type": env.get("KEA_LEASE6_TYPE", ""),
                  "duid": env.get("KEA_LEASE6_CLIENT_DUID", ""),
                  "valid_lifetime": int(env.get("KEA_LEASE6_VALID_LIFETIME") or 0),
                  "cltt": int(env.get("KEA_LEASE6_CLIENT_LAST_TRANSMISSION") or 0),
                  **text_field("hostname", env.get("KEA_LEASE6_HOSTNAME"))}
    record["expires"] = record["cltt"] + record["valid_lifetime"]
    return key, record


def save():
    status = {"updated": time.time(), "pid": os.getpid(), "events": counts,
              "leases": dict(sorted(leases.items()))}
    temporary = f"{STATUS_FILE}.{os.getpid()}.tmp"
    with open(temporary, "w") as f:
        json.dump(status, f, indent=1)
    os.replace(temporary, STATUS_FILE)


def handle(hook, env):
    counts[hook] = counts.get(hook, 0) + 1
    if granted(hook, env):
        key, record = lease_of(hook, env)
        # A renewal without a name keeps the one the client gave.
        for field in ("hostname", "hostname_hex", "client_hostname", "client_hostname_hex"):
            if field not in record and field in leases.get(key, {}):
                record[field] = leases[key][field]
        leases[key] = record
        save()
    elif ended(hook):
        key, _ = lease_of(hook, env)
        if leases.pop(key, None) is not None:
            save()


def main():
    save()  # an empty table says the worker is up
    for line in sys.stdin.buffer:
        try:
            event = json.loads(line)
            handle(event["hook"], event["env"])
            answer = 0
        except Exception as exc:  # report, answer "failed", keep going
            print(f"lease-table: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            answer = 1
        sys.stdout.write(f"{answer}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
