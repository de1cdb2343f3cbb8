"""What the original kea-hook-runscript 1.4 passed to its script under Kea 2.2,
and the value format of every variable our hook passes.

The recordings in tests/e2e/reference/original-hook-env-v{4,6}.txt were made
with real clients: per hook point, every variable the original set and up to
three example values. Our hook must pass at least those names, in the same
formats (the recording wins over any document).

    load(4) -> {"pkt4_receive": {"KEA_QUERY4_TYPE": ["DHCPDISCOVER", ...], ...}, ...}
    format_errors(env) -> ["KEA_X='bad': expected ..."]   (empty when all is well)
"""

import ast
import ipaddress
import re
from pathlib import Path

from lab import kea

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_SECTION = re.compile(r"^\[(\w+)\]$")
_ENTRY = re.compile(r"^(KEA_\w+) = (.*)$")
_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")

# Variables the original only set when the packet or lease had the thing:
# option 60, option 82 (relayed DHCPv4), a delegated prefix (IA_PD leases).
_CONDITIONAL = re.compile(r"KEA_(QUERY|RESPONSE)4_(OPTION60|RAI\w*)|KEA_LEASE6_DELEGATED_PREFIX(LEN)?")


def load(version):
    """{hook point: {variable: [example values]}} for DHCPv`version`.

    Values are written as Python string literals separated by " | "; they
    are parsed as literals, so a value may itself contain " | "."""
    table, hook = {}, None
    text = (REFERENCE_DIR / f"original-hook-env-v{version}.txt").read_text()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if section := _SECTION.match(line):
            hook = section.group(1)
            table[hook] = {}
        elif (entry := _ENTRY.match(line)) and hook:
            table[hook][entry.group(1)] = [ast.literal_eval(v) for v in _LITERAL.findall(entry.group(2))]
        else:
            raise ValueError(f"original-hook-env-v{version}.txt:{number}: cannot parse {line!r}")
    return table


def required_names(version, hook):
    """Names every call at `hook` must carry: the reference's, less those the
    original only set when the packet or lease had the thing."""
    return {name for name in load(version)[hook] if not _CONDITIONAL.fullmatch(name)}


# --- value formats ------------------------------------------------------------

def _ipv4(value):
    try:
        return str(ipaddress.IPv4Address(value)) == value  # dotted quad, no leading zeros
    except ValueError:
        return False


def _ipv6(value):
    try:
        return str(ipaddress.IPv6Address(value)) == value  # RFC 5952 text: lower case, "::" compressed
    except ValueError:
        return False


def _network(cls):
    def check(value):
        try:
            return "/" in value and str(cls(value)) == value  # strict: no host bits set
        except ValueError:
            return False
    return check


def _regex(pattern):
    compiled = re.compile(pattern, re.S)
    return lambda value: compiled.fullmatch(value) is not None


def _one_of(*values):
    return lambda value: value in values


_INT = _regex(r"0|[1-9][0-9]*")
_COLON_HEX = _regex(r"([0-9a-f]{2}(:[0-9a-f]{2})*)?")  # lower case; empty when Kea has none
_HEX0X = _regex(r"0x([0-9A-F]{2})+")
_ANY = lambda value: True  # noqa: E731  (client-supplied bytes, passed raw)

DHCP4_MESSAGES = ("DHCPDISCOVER", "DHCPOFFER", "DHCPREQUEST", "DHCPDECLINE", "DHCPACK", "DHCPNAK",
                  "DHCPRELEASE", "DHCPINFORM", "DHCPLEASEQUERY", "DHCPLEASEUNASSIGNED", "DHCPLEASEUNKNOWN",
                  "DHCPLEASEACTIVE", "DHCPBULKLEASEQUERY", "DHCPLEASEQUERYDONE", "DHCPLEASEQUERYSTATUS",
                  "DHCPTLS")
DHCP6_MESSAGES = ("SOLICIT", "ADVERTISE", "REQUEST", "CONFIRM", "RENEW", "REPLY", "REBIND", "RELEASE",
                  "DECLINE", "RECONFIGURE", "INFORMATION_REQUEST", "RELAY_FORWARD", "RELAY_REPLY",
                  "LEASEQUERY", "LEASEQUERY_REPLY", "LEASEQUERY_DONE", "LEASEQUERY_DATA",
                  "DHCPV4_QUERY", "DHCPV4_RESPONSE")
LEASE_STATES = ("default", "declined", "expired-reclaimed")


def lease_states(release):
    """The lease states Kea `release` names: 2.7.0 keeps a released lease as "released" (until
    it is reclaimed), 2.7.7 adds "registered" (addresses a client registered, addr6_register)."""
    return LEASE_STATES + (("released",) if release >= (2, 7, 0) else ()) + (
        ("registered",) if release >= (2, 7, 7) else ())


# The Kea the recordings were made with.
RECORDED_WITH = (2, 2, 0)


def pkt6_label(duid, xid):
    """Kea's label of a DHCPv6 packet from the client with DUID `duid` (colon hex), transaction
    `xid`: what Pkt6::getLabel() makes (it never knows the hardware address). Kea 2.5.4 added
    the hardware address, or "[no hwaddr info]", after the DUID."""
    if kea.release() >= (2, 5, 4):
        return f"duid=[{duid}], [no hwaddr info], tid={xid:#x}"
    return f"duid=[{duid}], tid={xid:#x}"


def pkt6_dump_start(local, local_port, remote, remote_port):
    """How Kea's dump of a DHCPv6 packet (Pkt6::toText()) received on `local` from `remote` begins:
    Kea 2.5.4 renamed its fields (local_address= for localAddr=) and separated them with commas."""
    if kea.release() >= (2, 5, 4):
        return f"local_address=[{local}]:{local_port}, remote_address=[{remote}]:{remote_port},\n"
    return f"localAddr=[{local}]:{local_port} remoteAddr=[{remote}]:{remote_port}\n"


# The DUID Kea gives a declined DHCPv6 lease (DUID::EMPTY()): one zero byte, three from 2.3.8.
DECLINED_DUID = "00:00:00" if kea.release() >= (2, 3, 8) else "00"


def _rules(release):
    """(variable name, what it must look like, check), first match wins, for the values Kea
    `release` makes. Lease arrays of leases*_committed (KEA_LEASES4_AT0_ADDRESS ...) are checked
    as the single-lease variable of the same field (KEA_LEASE4_ADDRESS)."""
    # Kea 2.5.4 changed its DHCPv6 packet label (see pkt6_label()) and the start of its packet
    # dump ("local_address=" for "localAddr=").
    since_2_5_4 = release >= (2, 5, 4)
    pkt = r"KEA_(QUERY|RESPONSE)"
    rules = [
        (r"PATH", "the fixed PATH", _one_of(PATH)),
        (r"KEA_(FAKE_ALLOCATION|REMOVE_LEASE)|KEA_\w+_(RELAYED|IS_EXPIRED)", "0 or 1", _one_of("0", "1")),
        (rf"{pkt}4_TYPE", "a DHCPv4 message name", _one_of(*DHCP4_MESSAGES)),
        (rf"{pkt}6_TYPE", "a DHCPv6 message name", _one_of(*DHCP6_MESSAGES)),
        (r"KEA_LEASE4_TYPE", "V4", _one_of("V4")),
        (r"KEA_LEASE6_TYPE", "IA_NA, IA_TA or IA_PD", _one_of("IA_NA", "IA_TA", "IA_PD")),
        (r"KEA_LEASE[46]_STATE", "a lease state", _one_of(*lease_states(release))),
        (rf"{pkt}4_(CI|SI|YI|GI)ADDR|{pkt}4_REQUESTED_ADDRESS|KEA_LEASE4_ADDRESS|KEA_SUBNET4_PREFIX",
         "an IPv4 address", _ipv4),
        (rf"{pkt}6_(LOCAL|REMOTE)_ADDRESS|{pkt}6_RELAY\d+_(LINK|PEER)_ADDRESS|KEA_LEASE6_ADDRESS|KEA_SUBNET6_PREFIX",
         "an IPv6 address (RFC 5952 text)", _ipv6),
        (r"KEA_SUBNET4", "an IPv4 prefix/length", _network(ipaddress.IPv4Network)),
        (r"KEA_SUBNET6|KEA_LEASE6_DELEGATED_PREFIX", "an IPv6 prefix/length", _network(ipaddress.IPv6Network)),
        (rf"{pkt}[46]_HWADDR|KEA_LEASE[46]_HWADDR|{pkt}4_CLIENT_ID|KEA_LEASE4_CLIENT_ID|{pkt}6_DUID"
         r"|KEA_LEASE6_CLIENT_DUID", "lower-case colon hex", _COLON_HEX),
        (rf"{pkt}4_RAI\w*|{pkt}6_RELAY\d+_(INTERFACE_ID|REMOTE_ID|SUBSCRIBER_ID)|KEA_QUERY4_OPTION(?!60$)\d+"
         r"|KEA_QUERY6_OPTION\d+", "0x + upper-case hex", _HEX0X),
        (rf"{pkt}[46]_(HWADDR_TYPE|HWADDR_SOURCE|IFINDEX|RELAY_HOPS|LOCAL_PORT|REMOTE_PORT|TRANSACTION_ID)"
         rf"|{pkt}6_RELAY\d+_HOP_COUNT|KEA_SUBNET[46]_PREFIXLEN|KEA_LEASE6_DELEGATED_PREFIXLEN"
         r"|KEA_LEASE[46]_(CLIENT_LAST_TRANSMISSION|VALID_LIFETIME|PREFERRED_LIFETIME|IAID|SUBNET_ID)"
         r"|KEA_(DELETED_)?LEASES[46]_COUNT", "a decimal integer", _INT),
        (rf"{pkt}[46]_INTERFACE", "an interface name", _regex(r"[A-Za-z0-9_.:@-]{1,15}")),
        (rf"{pkt}6_LABEL", "Kea's packet label",
         _regex(r"duid=\[([0-9a-f]{2}(:[0-9a-f]{2})*|no info)\]"
                + (r", \[([0-9a-f]{2}(:[0-9a-f]{2})*|no hwaddr info)\]" if since_2_5_4 else "")
                + r", tid=0x[0-9a-f]+")),
        (rf"{pkt}6_DEBUG", "Kea's packet dump", _regex(r"local_address=\[.*" if since_2_5_4 else r"localAddr=\[.*")),
        (r"KEA_LEASE4_DEBUG", "Kea's lease dump", _regex(r"Address:\s+\S+.*")),
        (r"KEA_LEASE6_DEBUG", "Kea's lease dump", _regex(r"Type:\s+IA_(NA|TA|PD)\(\d\).*")),
        (rf"{pkt}4_(OPTION60|HOSTNAME|FQDN)|KEA_LEASE[46]_HOSTNAME", "raw bytes", _ANY),
    ]
    return [(re.compile(name), what, check) for name, what, check in rules]


_RULES = {}
_ARRAY = re.compile(r"KEA_(?:DELETED_)?LEASES([46])_AT\d+_(\w+)")


def format_rule(name, release=None):
    """(what the value must look like, check) for variable `name` as Kea `release` (default: the
    installed one) makes it, or None."""
    release = release or kea.release()
    if release not in _RULES:
        _RULES[release] = _rules(release)
    if array := _ARRAY.fullmatch(name):
        name = f"KEA_LEASE{array.group(1)}_{array.group(2)}"
    for pattern, what, check in _RULES[release]:
        if pattern.fullmatch(name):
            return what, check
    return None


def format_errors(env, release=None):
    """Every variable of `env` ({name: str}) whose value is not in its
    format (as Kea `release`, default the installed one, makes it), or
    that has no known format, as readable strings."""
    errors = []
    for name, value in sorted(env.items()):
        rule = format_rule(name, release)
        if rule is None:
            errors.append(f"{name}={value!r}: no format known for this variable")
        elif not rule[1](value):
            errors.append(f"{name}={value!r}: expected {rule[0]}")
    return errors


# --- nothing else ----------------------------------------------------------

# Put into Kea's own environment by the tests; none may reach a script. The
# KEA_-prefixed one checks that the hook does not pass on Kea's variables by
# prefix (the lab's own KEA_PIDFILE_DIR, KEA_LOCKFILE_DIR and the directories
# of lab.kea.kea_directories() are checked too).
KEA_ENV_CANARIES = {"RUNSCRIPT_TEST_CANARY": "from-kea-environment", "KEA_TEST_CANARY": "from-kea-environment"}
_KEAS_OWN = set(KEA_ENV_CANARIES) | {"KEA_PIDFILE_DIR", "KEA_LOCKFILE_DIR"} | set(kea.kea_directories("", "", ""))


def environment_errors(env):
    """What is wrong with a script's environment: anything but KEA_*
    variables and the fixed PATH, or a variable of Kea's own environment."""
    errors = [f"{name} is not a KEA_* variable" for name in sorted(env)
              if not name.startswith("KEA_") and name != "PATH"]
    errors += [f"{name} leaked from Kea's environment" for name in sorted(_KEAS_OWN & set(env))]
    if env.get("PATH") != PATH:
        errors.append(f"PATH={env.get('PATH')!r}, expected {PATH!r}")
    return errors


# --- how values are written -------------------------------------------------

def hex0x(data):
    """Raw option bytes as the hook writes them: 0x + upper-case hex."""
    return "0x" + bytes(data).hex().upper()


def colon_hex(data):
    """Bytes as Kea writes a DUID or client-id: lower-case hex, colon-separated."""
    return ":".join(f"{b:02x}" for b in bytes(data))
