"""Every DHCPv6 hook point of the original, under a real kea-dhcp6, with real
clients: what the script gets, value by value, against what the clients sent
and received, and against the original hook's recorded environment.

One scenario (module fixture `v6`) drives all ten hook points, with
{"script": recorder, "wait": true}; the tests below each check one aspect of
what it recorded. Client A takes an address and a prefix (IA_NA + IA_PD,
client FQDN) and renews and rebinds them; B declines its address (recovered
after the probation period); C releases its address and prefix; R's SOLICIT
comes through a relay agent with interface-id, remote-id and subscriber-id;
dhclient -6 -N -P takes an address and a prefix and releases them. Leases
live 3 s and Kea reclaims every second, so A's leases expire within the
scenario.
"""

import time
from dataclasses import dataclass

import pytest
import reference
from lab import Lab, hook, matching, one
from lab.dhcp6 import Reply6
from lab.dhcp6 import duid_text as duid  # KEA_*_DUID of the lab's scapy client with `mac`
from lab.kea import PD_DELEGATED_LEN6, SUBNET6
from lab.netns import SERVER_IFACE
from lab.wait import time_limit

HOOKS = ("pkt6_receive", "subnet6_select", "lease6_select", "lease6_renew", "lease6_rebind", "lease6_decline",
         "lease6_release", "lease6_expire", "lease6_recover", "pkt6_send")
LIFETIME = 3
PREFERRED = 2  # lab.config6: 3/4 of the valid lifetime

MAC_A, MAC_B, MAC_C, MAC_R = "02:00:00:00:01:c7", "02:00:00:00:01:7f", "02:00:00:00:01:3f", "02:00:00:00:01:99"
IAID_NA, IAID_PD = 560193265, 752800357
FQDN = "host.example.com."
# Transaction ids of A's messages, to find each one's calls.
XID = {"SOLICIT": 0x1adf9d, "REQUEST": 0x1adf9e, "RENEW": 0x1adf9f, "REBIND": 0x1adfa0}
RELAY_LINK, RELAY_PEER = "2001:db8:1::2", "fe80::99"
INTERFACE_ID, REMOTE_ID, ENTERPRISE, SUBSCRIBER_ID = b"eth0/1", b"\xde\xad\xbe\xef", 4491, b"sub-1"


@dataclass
class Run6:
    calls: list          # every recorded call, in start order
    start: int           # Unix time before the first packet
    end: int             # Unix time after the last
    ifindex: int         # of veth-s, where Kea receives
    link_local: str      # of veth-c, where the clients and the relay send from
    advertise_a: Reply6
    reply_a: Reply6
    reply_b: Reply6
    reply_c: Reply6
    advertise_r: Reply6
    dhclient_addresses: list
    dhclient_prefixes: list
    dhclient_duid: bytes


@pytest.fixture(scope="module")
def v6(tmp_path_factory, hook_so):
    """The scenario's outcome; the lab is gone by the time the tests look at it."""
    with time_limit(60, "the DHCPv6 scenario"), Lab(workdir=tmp_path_factory.mktemp("v6")) as lab:
        return _play(lab, hook_so)


def _play(lab, hook_so):
    rec = lab.recorder()
    kea = lab.start_kea(lab.config6(valid_lifetime=LIFETIME, hooks=[hook(hook_so, script=rec.script, wait=True)]),
                        env=reference.KEA_ENV_CANARIES)
    start = int(time.time())
    client = lab.dhcp6()
    advertise_a = client.solicit(MAC_A, pd=True, fqdn=FQDN, iaid_na=IAID_NA, iaid_pd=IAID_PD, xid=XID["SOLICIT"])
    reply_a = client.request(MAC_A, advertise_a, fqdn=FQDN, xid=XID["REQUEST"])
    assert reply_a and reply_a.addresses and reply_a.prefixes, reply_a
    for exchange in ("RENEW", "REBIND"):
        again = getattr(client, exchange.lower())(MAC_A, reply_a, xid=XID[exchange])
        assert again and (again.addresses, again.prefixes) == (reply_a.addresses, reply_a.prefixes), again

    reply_b = client.sarr(MAC_B)
    client.decline(MAC_B, reply_b)
    reply_c = client.sarr(MAC_C, pd=True)
    client.release(MAC_C, reply_c)
    advertise_r = client.relayed_solicit(MAC_R, link_address=RELAY_LINK, peer_address=RELAY_PEER,
                                         interface_id=INTERFACE_ID, remote_id=REMOTE_ID, enterprise=ENTERPRISE,
                                         subscriber_id=SUBSCRIBER_ID, pd=True)
    assert advertise_r and advertise_r.addresses, advertise_r

    client.close()  # dhclient needs the client port, 546
    dhclient = lab.dhclient()
    lease = dhclient.lease6(na=True, pd=True)
    dhclient.release6()
    rec.wait_for("lease6_release", count=4)  # C's and dhclient's address and prefix

    rec.wait_for("lease6_recover", timeout=15)
    rec.wait_for_each("lease6_expire", "KEA_LEASE6_ADDRESS",
                      {reply_a.addresses[0], _prefix(reply_a.prefixes[0]), reply_b.addresses[0]}, timeout=15)
    end = int(time.time())
    kea.stop()  # nothing more is recorded after this: the tests see a fixed set of calls
    return Run6(calls=rec.calls(), start=start, end=end, ifindex=lab.net.server.ifindex(SERVER_IFACE),
                link_local=client.link_local, advertise_a=advertise_a, reply_a=reply_a, reply_b=reply_b,
                reply_c=reply_c, advertise_r=advertise_r, dhclient_addresses=lease.addresses,
                dhclient_prefixes=lease.prefixes, dhclient_duid=dhclient.duid())


def _prefix(delegated):
    """"2001:db8:8000::/56" -> "2001:db8:8000::" (KEA_LEASE6_ADDRESS of a prefix)."""
    return delegated.split("/")[0]


def by_xid(calls, hook, message):
    return matching(calls, hook, KEA_QUERY6_TRANSACTION_ID=str(XID[message]))


# --- against the original --------------------------------------------------------

def test_argv_is_the_hook_point_and_every_hook_point_runs(v6):
    assert all(call.argv == [call.hook] for call in v6.calls), [c.argv for c in v6.calls if c.argv != [c.hook]]
    assert {call.hook for call in v6.calls} == set(HOOKS)


def test_every_variable_of_the_original_is_passed(v6):
    """Per call: every variable the original always set at that hook point;
    per hook point: also the delegated prefix (set for IA_PD leases only)."""
    original = reference.load(6)
    assert set(original) == set(HOOKS)
    for hook_point in HOOKS:
        calls = matching(v6.calls, hook_point)
        required = reference.required_names(6, hook_point)
        for call in calls:
            assert required <= call.env.keys(), (hook_point, sorted(required - call.env.keys()))
        passed = set().union(*(call.env.keys() for call in calls))
        assert set(original[hook_point]) <= passed, (hook_point, sorted(set(original[hook_point]) - passed))


def test_every_value_has_its_format(v6):
    errors = {f"{call.hook}: {error}" for call in v6.calls for error in reference.format_errors(call.env)}
    assert not errors, sorted(errors)


def test_environment_is_only_kea_variables_and_path(v6):
    errors = {f"{call.hook}: {error}" for call in v6.calls for error in reference.environment_errors(call.env)}
    assert not errors, sorted(errors)


# --- the query ----------------------------------------------------------------------

def test_query_type_per_message(v6):
    received = {mac: [c.env["KEA_QUERY6_TYPE"] for c in matching(v6.calls, "pkt6_receive", KEA_QUERY6_HWADDR=mac)]
                for mac in (MAC_A, MAC_B, MAC_C, MAC_R)}
    assert received == {
        MAC_A: ["SOLICIT", "REQUEST", "RENEW", "REBIND"],
        MAC_B: ["SOLICIT", "REQUEST", "DECLINE"],
        MAC_C: ["SOLICIT", "REQUEST", "RELEASE"],
        MAC_R: ["SOLICIT"],
    }


def test_pkt6_receive_describes_the_clients_packet(v6):
    for message, xid in XID.items():
        env = one(v6.calls, "pkt6_receive", KEA_QUERY6_TRANSACTION_ID=str(xid)).env
        assert env["KEA_QUERY6_TYPE"] == message
        assert env["KEA_QUERY6_DUID"] == duid(MAC_A)  # empty in the original: now the client's DUID
        assert env["KEA_QUERY6_LABEL"] == reference.pkt6_label(duid(MAC_A), xid)
        assert env["KEA_QUERY6_HWADDR"] == MAC_A
        assert env["KEA_QUERY6_HWADDR_TYPE"] == "1"
        assert env["KEA_QUERY6_HWADDR_SOURCE"] == "2"  # taken from the DUID-LL
        assert env["KEA_QUERY6_REMOTE_ADDRESS"] == v6.link_local
        assert env["KEA_QUERY6_REMOTE_PORT"] == "546"
        assert env["KEA_QUERY6_LOCAL_ADDRESS"] == "ff02::1:2"
        assert env["KEA_QUERY6_INTERFACE"] == SERVER_IFACE
        assert env["KEA_QUERY6_IFINDEX"] == str(v6.ifindex)
        assert env["KEA_QUERY6_RELAY_HOPS"] == "0"
        assert not any(name.startswith("KEA_QUERY6_RELAY0_") for name in env)
        assert env["KEA_QUERY6_DEBUG"].startswith(reference.pkt6_dump_start("ff02::1:2", 0, v6.link_local, 546))


def test_subnet6_select_names_the_selected_subnet(v6):
    calls = matching(v6.calls, "subnet6_select", KEA_QUERY6_HWADDR=MAC_A)
    assert len(calls) == 4
    for call in calls:
        assert (call.env["KEA_SUBNET6"], call.env["KEA_SUBNET6_PREFIX"], call.env["KEA_SUBNET6_PREFIXLEN"]) == (
            SUBNET6, "2001:db8:1::", "64")


# --- leases ---------------------------------------------------------------------------

def _check_lease(env, v6, kind, *, hostname=FQDN, reclaimed=False):
    """The variables of A's lease of `kind` ("IA_NA" or "IA_PD")."""
    assert env["KEA_LEASE6_TYPE"] == kind
    if kind == "IA_NA":
        assert env["KEA_LEASE6_ADDRESS"] == v6.reply_a.addresses[0]
        assert env["KEA_LEASE6_IAID"] == str(IAID_NA)
        assert "KEA_LEASE6_DELEGATED_PREFIX" not in env and "KEA_LEASE6_DELEGATED_PREFIXLEN" not in env
        assert env["KEA_LEASE6_DEBUG"].startswith("Type:          IA_NA(0)\n")
    else:
        assert env["KEA_LEASE6_ADDRESS"] == _prefix(v6.reply_a.prefixes[0])
        assert env["KEA_LEASE6_DELEGATED_PREFIX"] == v6.reply_a.prefixes[0]
        assert env["KEA_LEASE6_DELEGATED_PREFIXLEN"] == str(PD_DELEGATED_LEN6)
        assert env["KEA_LEASE6_IAID"] == str(IAID_PD)
        assert env["KEA_LEASE6_DEBUG"].startswith("Type:          IA_PD(2)\n")
    assert env["KEA_LEASE6_CLIENT_DUID"] == duid(MAC_A)
    assert env["KEA_LEASE6_HWADDR"] == MAC_A
    assert env["KEA_LEASE6_HOSTNAME"] == hostname
    assert env["KEA_LEASE6_SUBNET_ID"] == "1"
    assert (env["KEA_LEASE6_VALID_LIFETIME"], env["KEA_LEASE6_PREFERRED_LIFETIME"]) == (str(LIFETIME), str(PREFERRED))
    assert env["KEA_LEASE6_STATE"] == "default"
    # Lease::expired() is "expiry < now", but Kea reclaims leases whose
    # expiry is <= now: in the second a lease runs out it is reclaimed with
    # IS_EXPIRED 0 (as in the original's recording), later with 1.
    assert env["KEA_LEASE6_IS_EXPIRED"] == "0" or reclaimed
    assert v6.start <= int(env["KEA_LEASE6_CLIENT_LAST_TRANSMISSION"]) <= v6.end


def test_lease6_select_for_address_and_prefix(v6):
    """A granted address and delegated prefix, first advertised (fake
    allocation) then really allocated on REQUEST."""
    assert v6.advertise_a.addresses == v6.reply_a.addresses and v6.advertise_a.prefixes == v6.reply_a.prefixes
    for message, fake in (("SOLICIT", "1"), ("REQUEST", "0")):
        calls = by_xid(v6.calls, "lease6_select", message)
        assert sorted(c.env["KEA_LEASE6_TYPE"] for c in calls) == ["IA_NA", "IA_PD"]
        for call in calls:
            _check_lease(call.env, v6, call.env["KEA_LEASE6_TYPE"])
            assert call.env["KEA_FAKE_ALLOCATION"] == fake
            assert call.env["KEA_QUERY6_TYPE"] == message
            assert call.env["KEA_QUERY6_DUID"] == duid(MAC_A)
            assert call.env["KEA_SUBNET6"] == SUBNET6


def test_pkt6_send_carries_advertise_and_reply(v6):
    for message, response in (("SOLICIT", "ADVERTISE"), ("REQUEST", "REPLY"), ("RENEW", "REPLY"),
                              ("REBIND", "REPLY")):
        (call,) = by_xid(v6.calls, "pkt6_send", message)
        env = call.env
        assert (env["KEA_QUERY6_TYPE"], env["KEA_RESPONSE6_TYPE"]) == (message, response)
        assert env["KEA_RESPONSE6_TRANSACTION_ID"] == str(XID[message])
        assert env["KEA_RESPONSE6_DUID"] == duid(MAC_A)  # the reply carries the client's id
        assert env["KEA_RESPONSE6_REMOTE_ADDRESS"] == v6.link_local
        assert env["KEA_RESPONSE6_REMOTE_PORT"] == "546"


@pytest.mark.parametrize("hook_point, message", [("lease6_renew", "RENEW"), ("lease6_rebind", "REBIND")])
def test_lease6_renew_and_rebind_extend_both_leases(v6, hook_point, message):
    calls = by_xid(v6.calls, hook_point, message)
    assert sorted(c.env["KEA_LEASE6_TYPE"] for c in calls) == ["IA_NA", "IA_PD"]
    for call in calls:
        # A's RENEW and REBIND carry no FQDN: Kea clears the lease's hostname.
        _check_lease(call.env, v6, call.env["KEA_LEASE6_TYPE"], hostname="")
        assert call.env["KEA_QUERY6_TYPE"] == message


def test_lease6_decline(v6):
    decline = one(v6.calls, "lease6_decline").env
    assert decline["KEA_LEASE6_ADDRESS"] == v6.reply_b.addresses[0]
    assert (decline["KEA_LEASE6_TYPE"], decline["KEA_LEASE6_IAID"]) == ("IA_NA", "1")
    assert decline["KEA_QUERY6_TYPE"] == "DECLINE"
    assert decline["KEA_QUERY6_DUID"] == decline["KEA_LEASE6_CLIENT_DUID"] == duid(MAC_B)
    assert decline["KEA_LEASE6_STATE"] == "default"


def test_lease6_release_of_address_and_prefix(v6):
    calls = matching(v6.calls, "lease6_release", KEA_QUERY6_HWADDR=MAC_C)
    released = {c.env["KEA_LEASE6_TYPE"]: c.env for c in calls}
    assert len(calls) == 2 and released.keys() == {"IA_NA", "IA_PD"}
    assert released["IA_NA"]["KEA_LEASE6_ADDRESS"] == v6.reply_c.addresses[0]
    assert released["IA_PD"]["KEA_LEASE6_ADDRESS"] == _prefix(v6.reply_c.prefixes[0])
    assert released["IA_PD"]["KEA_LEASE6_DELEGATED_PREFIX"] == v6.reply_c.prefixes[0]
    assert (released["IA_NA"]["KEA_LEASE6_IAID"], released["IA_PD"]["KEA_LEASE6_IAID"]) == ("1", "2")
    for env in released.values():
        assert env["KEA_QUERY6_TYPE"] == "RELEASE"
        assert env["KEA_QUERY6_DUID"] == env["KEA_LEASE6_CLIENT_DUID"] == duid(MAC_C)


def test_lease6_expire(v6):
    for kind, leased in (("IA_NA", v6.reply_a.addresses[0]), ("IA_PD", _prefix(v6.reply_a.prefixes[0]))):
        expire = one(v6.calls, "lease6_expire", KEA_LEASE6_ADDRESS=leased).env
        _check_lease(expire, v6, kind, hostname="", reclaimed=True)
        # The lab keeps reclaimed leases (flush-reclaimed-timer-wait-time > 0).
        assert expire["KEA_REMOVE_LEASE"] == "0"
        assert not any(name.startswith("KEA_QUERY6_") for name in expire)  # no packet behind it
    declined = one(v6.calls, "lease6_expire", KEA_LEASE6_ADDRESS=v6.reply_b.addresses[0]).env
    # Kea wipes a declined lease's identity: the empty DUID (00, 00:00:00 from 2.3.8), no MAC.
    assert (declined["KEA_LEASE6_STATE"], declined["KEA_LEASE6_CLIENT_DUID"], declined["KEA_LEASE6_HWADDR"]) == (
        "declined", reference.DECLINED_DUID, "")


def test_lease6_recover_after_decline(v6):
    recover = one(v6.calls, "lease6_recover").env
    assert (recover["KEA_LEASE6_ADDRESS"], recover["KEA_LEASE6_TYPE"]) == (v6.reply_b.addresses[0], "IA_NA")
    assert recover["KEA_LEASE6_STATE"] == "declined"
    assert recover["KEA_LEASE6_SUBNET_ID"] == "1"


# --- through a relay --------------------------------------------------------------------

def test_relayed_solicit_carries_the_relay_and_its_options(v6):
    relayed = matching(v6.calls, KEA_QUERY6_HWADDR=MAC_R)
    assert {c.hook for c in relayed} == {"pkt6_receive", "subnet6_select", "lease6_select", "pkt6_send"}
    for call in relayed:
        env = call.env
        assert env["KEA_QUERY6_TYPE"] == "SOLICIT"  # the inner message, not RELAY_FORWARD
        assert env["KEA_QUERY6_DUID"] == duid(MAC_R)
        assert env["KEA_QUERY6_RELAY_HOPS"] == "1"
        assert env["KEA_QUERY6_RELAY0_LINK_ADDRESS"] == RELAY_LINK
        assert env["KEA_QUERY6_RELAY0_PEER_ADDRESS"] == RELAY_PEER
        assert env["KEA_QUERY6_RELAY0_HOP_COUNT"] == "0"
        assert env["KEA_QUERY6_RELAY0_INTERFACE_ID"] == reference.hex0x(INTERFACE_ID)
        assert env["KEA_QUERY6_RELAY0_REMOTE_ID"] == reference.hex0x(ENTERPRISE.to_bytes(4, "big") + REMOTE_ID)
        assert env["KEA_QUERY6_RELAY0_SUBSCRIBER_ID"] == reference.hex0x(SUBSCRIBER_ID)
        # The packet itself came from the relay agent, on the server port.
        assert (env["KEA_QUERY6_REMOTE_ADDRESS"], env["KEA_QUERY6_REMOTE_PORT"]) == (v6.link_local, "547")
        assert not any(name.startswith("KEA_QUERY6_RELAY1_") for name in env)
    selected = {c.env["KEA_LEASE6_TYPE"]: c.env for c in matching(relayed, "lease6_select")}
    assert selected["IA_NA"]["KEA_LEASE6_ADDRESS"] == v6.advertise_r.addresses[0]
    assert selected["IA_PD"]["KEA_LEASE6_DELEGATED_PREFIX"] == v6.advertise_r.prefixes[0]
    assert {env["KEA_FAKE_ALLOCATION"] for env in selected.values()} == {"1"}
    assert one(relayed, "subnet6_select").env["KEA_SUBNET6"] == SUBNET6  # chosen by the link address


# --- a real client ------------------------------------------------------------------------

def test_dhclient_address_and_prefix(v6):
    client_duid = reference.colon_hex(v6.dhclient_duid)
    assert len(v6.dhclient_addresses) == 1 and len(v6.dhclient_prefixes) == 1
    leased = {"IA_NA": v6.dhclient_addresses[0], "IA_PD": _prefix(v6.dhclient_prefixes[0])}
    for hook_point, messages in (("lease6_select", {"SOLICIT", "REQUEST"}), ("lease6_release", {"RELEASE"})):
        calls = matching(v6.calls, hook_point, KEA_LEASE6_CLIENT_DUID=client_duid)
        assert {c.env["KEA_QUERY6_TYPE"] for c in calls} == messages
        for call in calls:
            if call.env["KEA_QUERY6_TYPE"] != "SOLICIT":
                assert call.env["KEA_LEASE6_ADDRESS"] == leased[call.env["KEA_LEASE6_TYPE"]]
            assert call.env["KEA_QUERY6_DUID"] == client_duid
            assert call.env["KEA_QUERY6_REMOTE_ADDRESS"] == v6.link_local
        # A SOLICIT gets an offer (the next free address and prefix); a client may solicit again
        # before it requests (dhcpcd does when its first wait for ADVERTISEs ends): the offer
        # it took, at its last SOLICIT, is its lease.
        for kind in leased:
            for message in messages:
                last = [c for c in calls if (c.env["KEA_QUERY6_TYPE"], c.env["KEA_LEASE6_TYPE"]) == (message, kind)]
                assert last and last[-1].env["KEA_LEASE6_ADDRESS"] == leased[kind], (message, kind, last)
    allocated = matching(v6.calls, "lease6_select", KEA_LEASE6_CLIENT_DUID=client_duid, KEA_FAKE_ALLOCATION="0")
    assert sorted(c.env["KEA_LEASE6_TYPE"] for c in allocated) == ["IA_NA", "IA_PD"]
    prefix = one(allocated, KEA_LEASE6_TYPE="IA_PD").env
    assert prefix["KEA_LEASE6_DELEGATED_PREFIX"] == v6.dhclient_prefixes[0]


# --- the format rules themselves ------------------------------------------------------------

def test_format_rules_accept_every_value_of_the_original():
    for hook_point, variables in reference.load(6).items():
        for name, values in variables.items():
            for value in values:
                assert not reference.format_errors({name: value}, reference.RECORDED_WITH), (hook_point, name, value)


@pytest.mark.parametrize("name, value", [
    ("KEA_LEASE6_ADDRESS", "2001:DB8:1::100"),        # upper case
    ("KEA_LEASE6_ADDRESS", "2001:db8:1:0:0:0:0:100"),  # not compressed
    ("KEA_LEASE6_DELEGATED_PREFIX", "2001:db8:8000::"),
    ("KEA_LEASE6_TYPE", "NA"),
    ("KEA_LEASE6_TYPE", "0"),
    ("KEA_QUERY6_TYPE", "DHCPSOLICIT"),
    ("KEA_QUERY6_DUID", "00:03:00:01:02:00:00:00:01:C7"),
    ("KEA_QUERY6_RELAY0_REMOTE_ID", "0xdeadbeef"),
    ("KEA_QUERY6_LABEL", "duid=[00:03], tid=12"),
])
def test_format_rules_reject(name, value):
    assert reference.format_errors({name: value})
