"""Every DHCPv4 hook point of the original, under a real kea-dhcp4, with real
clients: what the script gets, value by value, against what the clients sent
and received, and against the original hook's recorded environment.

One scenario (module fixture `v4`) drives all nine hook points once, with
{"script": recorder, "wait": true}; the tests below each check one aspect of
what it recorded. Client A takes a lease with hostname, vendor class and
client-id, and renews it; B (vendor class too) declines its lease (recovered after the
probation period); C releases its lease; R is behind a relay agent that adds
option 82; dhclient takes a lease and releases it. Leases live 3 s and Kea
reclaims every second, so A's and R's leases expire within the scenario.
"""

import time
from dataclasses import dataclass

import pytest
import reference
from lab import Lab, hook, matching, one
from lab.dhcp4 import Reply4, option82
from lab.kea import RELAYED_SUBNET4, SUBNET4
from lab.netns import CLIENT_IFACE, RELAY_V4, SERVER_IFACE
from lab.wait import time_limit

HOOKS = ("pkt4_receive", "subnet4_select", "lease4_select", "lease4_renew", "lease4_release",
         "lease4_decline", "lease4_expire", "lease4_recover", "pkt4_send")
LIFETIME = 3

MAC_A, MAC_B, MAC_C, MAC_R = "02:aa:bb:cc:dd:01", "02:aa:bb:cc:dd:02", "02:aa:bb:cc:dd:03", "02:aa:bb:cc:dd:ee"
CLIENT_ID_A = bytes.fromhex("01" + MAC_A.replace(":", ""))  # type 1 (Ethernet) + MAC, as Windows sends it
HOSTNAME_A, VENDOR_CLASS_A = "client-a", "MSFT 5.0"
CIRCUIT_ID, REMOTE_ID, SUBSCRIBER_ID = b"eth0/1", bytes.fromhex("02aabbccddee"), b"sub-42"


@dataclass
class Run4:
    calls: list          # every recorded call, in start order
    start: int           # Unix time before the first packet
    end: int             # Unix time after the last
    ifindex: int         # of veth-s, where Kea receives
    ack_a: Reply4
    ack_b: Reply4
    ack_c: Reply4
    renew_a: Reply4
    offer_r: Reply4
    ack_r: Reply4
    dhclient_address: str
    dhclient_mac: str


@pytest.fixture(scope="module")
def v4(tmp_path_factory, hook_so):
    """The scenario's outcome; the lab is gone by the time the tests look at it."""
    with time_limit(60, "the DHCPv4 scenario"), Lab(workdir=tmp_path_factory.mktemp("v4")) as lab:
        return _play(lab, hook_so)


def _play(lab, hook_so):
    rec = lab.recorder()
    kea = lab.start_kea(lab.config4(valid_lifetime=LIFETIME, hooks=[hook(hook_so, script=rec.script, wait=True)]),
                        env=reference.KEA_ENV_CANARIES)
    start = int(time.time())
    client = lab.dhcp4()
    ident_a = dict(hostname=HOSTNAME_A, vendor_class=VENDOR_CLASS_A, client_id=CLIENT_ID_A)
    ack_a = client.dora(MAC_A, **ident_a)
    renew_a = client.renew(MAC_A, ack_a.yiaddr)
    assert renew_a and renew_a.type == "DHCPACK", renew_a

    # The original's recording has option 60 at lease4_decline: B sends it.
    ack_b = client.dora(MAC_B, vendor_class=VENDOR_CLASS_A)
    client.decline(MAC_B, ack_b.yiaddr, ack_b.server_id, vendor_class=VENDOR_CLASS_A)
    ack_c = client.dora(MAC_C)
    client.release(MAC_C, ack_c.yiaddr, ack_c.server_id)

    rai = dict(circuit_id=CIRCUIT_ID, remote_id=REMOTE_ID, subscriber_id=SUBSCRIBER_ID)
    offer_r = client.relayed_discover(MAC_R, hostname="relayed-host", **rai)
    ack_r = client.relayed_request(MAC_R, offer_r.yiaddr, offer_r.server_id, hostname="relayed-host", **rai)
    assert ack_r and ack_r.type == "DHCPACK", ack_r

    dhclient = lab.dhclient()
    dhclient_address = dhclient.lease4()
    dhclient.release4()
    rec.wait_for("lease4_release", count=2)

    # B's lease comes back after the decline probation period; A's and R's
    # leases run out (B's declined lease expires too, before recovery).
    rec.wait_for("lease4_recover", timeout=15)
    rec.wait_for_each("lease4_expire", "KEA_LEASE4_ADDRESS", {ack_a.yiaddr, ack_r.yiaddr, ack_b.yiaddr}, timeout=15)
    end = int(time.time())
    kea.stop()  # nothing more is recorded after this: the tests see a fixed set of calls
    return Run4(calls=rec.calls(), start=start, end=end, ifindex=lab.net.server.ifindex(SERVER_IFACE),
                ack_a=ack_a, ack_b=ack_b, ack_c=ack_c, renew_a=renew_a, offer_r=offer_r, ack_r=ack_r,
                dhclient_address=dhclient_address, dhclient_mac=lab.net.client.mac(CLIENT_IFACE))


# --- against the original --------------------------------------------------------

def test_argv_is_the_hook_point_and_every_hook_point_runs(v4):
    assert all(call.argv == [call.hook] for call in v4.calls), [c.argv for c in v4.calls if c.argv != [c.hook]]
    assert {call.hook for call in v4.calls} == set(HOOKS)


def test_every_variable_of_the_original_is_passed(v4):
    """Per call: every variable the original always set at that hook point;
    per hook point: also those it set only sometimes (option 60, option 82),
    which the scenario's clients send."""
    original = reference.load(4)
    assert set(original) == set(HOOKS)
    for hook_point in HOOKS:
        calls = matching(v4.calls, hook_point)
        required = reference.required_names(4, hook_point)
        for call in calls:
            assert required <= call.env.keys(), (hook_point, sorted(required - call.env.keys()))
        passed = set().union(*(call.env.keys() for call in calls))
        assert set(original[hook_point]) <= passed, (hook_point, sorted(set(original[hook_point]) - passed))


def test_every_value_has_its_format(v4):
    errors = {f"{call.hook}: {error}" for call in v4.calls for error in reference.format_errors(call.env)}
    assert not errors, sorted(errors)


def test_environment_is_only_kea_variables_and_path(v4):
    errors = {f"{call.hook}: {error}" for call in v4.calls for error in reference.environment_errors(call.env)}
    assert not errors, sorted(errors)


def test_hook_points_follow_each_message(v4):
    """C's DISCOVER, REQUEST, RELEASE: the hook points in Kea's order."""
    dora = ["pkt4_receive", "subnet4_select", "lease4_select", "pkt4_send"]
    assert [c.hook for c in matching(v4.calls, KEA_QUERY4_HWADDR=MAC_C)] == dora + dora + ["pkt4_receive",
                                                                                            "lease4_release"]


# --- the query ----------------------------------------------------------------------

def test_query_type_per_message(v4):
    received = {mac: [c.env["KEA_QUERY4_TYPE"] for c in matching(v4.calls, "pkt4_receive", KEA_QUERY4_HWADDR=mac)]
                for mac in (MAC_A, MAC_B, MAC_C, MAC_R)}
    assert received == {
        MAC_A: ["DHCPDISCOVER", "DHCPREQUEST", "DHCPREQUEST"],  # the second REQUEST renews
        MAC_B: ["DHCPDISCOVER", "DHCPREQUEST", "DHCPDECLINE"],
        MAC_C: ["DHCPDISCOVER", "DHCPREQUEST", "DHCPRELEASE"],
        MAC_R: ["DHCPDISCOVER", "DHCPREQUEST"],
    }


def test_pkt4_receive_describes_the_clients_packet(v4):
    discover = one(v4.calls, "pkt4_receive", KEA_QUERY4_HWADDR=MAC_A, KEA_QUERY4_TYPE="DHCPDISCOVER").env
    assert discover["KEA_QUERY4_INTERFACE"] == SERVER_IFACE
    assert discover["KEA_QUERY4_IFINDEX"] == str(v4.ifindex)
    assert discover["KEA_QUERY4_HWADDR_TYPE"] == "1"
    assert discover["KEA_QUERY4_HWADDR_SOURCE"] == "0"  # chaddr as such (Kea 2.2 leaves the source unset)
    assert discover["KEA_QUERY4_CLIENT_ID"] == reference.colon_hex(CLIENT_ID_A)
    assert discover["KEA_QUERY4_HOSTNAME"] == HOSTNAME_A
    assert discover["KEA_QUERY4_OPTION60"] == VENDOR_CLASS_A
    for field in ("CIADDR", "SIADDR", "YIADDR", "GIADDR"):
        assert discover[f"KEA_QUERY4_{field}"] == "0.0.0.0"
    assert (discover["KEA_QUERY4_RELAYED"], discover["KEA_QUERY4_RELAY_HOPS"]) == ("0", "0")
    assert "KEA_QUERY4_REQUESTED_ADDRESS" not in discover and "KEA_QUERY4_RAI" not in discover

    request = matching(v4.calls, "pkt4_receive", KEA_QUERY4_HWADDR=MAC_A, KEA_QUERY4_TYPE="DHCPREQUEST")[0].env
    assert request["KEA_QUERY4_REQUESTED_ADDRESS"] == v4.ack_a.yiaddr


def test_subnet4_select_names_the_selected_subnet(v4):
    for call in matching(v4.calls, "subnet4_select", KEA_QUERY4_HWADDR=MAC_A):
        assert (call.env["KEA_SUBNET4"], call.env["KEA_SUBNET4_PREFIX"], call.env["KEA_SUBNET4_PREFIXLEN"]) == (
            SUBNET4, "192.0.2.0", "24")
    assert len(matching(v4.calls, "subnet4_select", KEA_QUERY4_HWADDR=MAC_A)) == 3  # DISCOVER, REQUEST, renewal


# --- leases ---------------------------------------------------------------------------

def test_lease4_select_is_fake_on_discover_and_real_on_request(v4):
    discover = one(v4.calls, "lease4_select", KEA_QUERY4_HWADDR=MAC_A, KEA_QUERY4_TYPE="DHCPDISCOVER").env
    request = one(v4.calls, "lease4_select", KEA_QUERY4_HWADDR=MAC_A, KEA_QUERY4_TYPE="DHCPREQUEST").env
    assert (discover["KEA_FAKE_ALLOCATION"], request["KEA_FAKE_ALLOCATION"]) == ("1", "0")
    for env in (discover, request):
        assert env["KEA_LEASE4_ADDRESS"] == v4.ack_a.yiaddr  # what the client was offered and acked
        assert env["KEA_LEASE4_HWADDR"] == MAC_A
        assert env["KEA_LEASE4_CLIENT_ID"] == reference.colon_hex(CLIENT_ID_A)
        assert env["KEA_LEASE4_HOSTNAME"] == HOSTNAME_A
        assert env["KEA_LEASE4_SUBNET_ID"] == "1"
        assert env["KEA_LEASE4_VALID_LIFETIME"] == str(LIFETIME)
        assert (env["KEA_LEASE4_TYPE"], env["KEA_LEASE4_STATE"], env["KEA_LEASE4_IS_EXPIRED"]) == ("V4", "default", "0")
        assert v4.start <= int(env["KEA_LEASE4_CLIENT_LAST_TRANSMISSION"]) <= v4.end
        assert env["KEA_LEASE4_DEBUG"].startswith(f"Address:       {v4.ack_a.yiaddr}\n")
        assert env["KEA_SUBNET4"] == SUBNET4


def test_pkt4_send_carries_offer_and_ack(v4):
    offer = one(v4.calls, "pkt4_send", KEA_QUERY4_HWADDR=MAC_A, KEA_QUERY4_TYPE="DHCPDISCOVER").env
    ack = one(v4.calls, "pkt4_send", KEA_QUERY4_HWADDR=MAC_A, KEA_QUERY4_TYPE="DHCPREQUEST",
              KEA_QUERY4_CIADDR="0.0.0.0").env
    assert (offer["KEA_RESPONSE4_TYPE"], ack["KEA_RESPONSE4_TYPE"]) == ("DHCPOFFER", "DHCPACK")
    for env in (offer, ack):
        assert env["KEA_RESPONSE4_YIADDR"] == v4.ack_a.yiaddr
        assert env["KEA_RESPONSE4_HWADDR"] == MAC_A
        assert env["KEA_RESPONSE4_INTERFACE"] == SERVER_IFACE


def test_lease4_renew(v4):
    renew = one(v4.calls, "lease4_renew", KEA_QUERY4_HWADDR=MAC_A).env
    assert renew["KEA_LEASE4_ADDRESS"] == v4.renew_a.yiaddr == v4.ack_a.yiaddr
    assert renew["KEA_QUERY4_TYPE"] == "DHCPREQUEST"
    assert renew["KEA_QUERY4_CIADDR"] == v4.ack_a.yiaddr  # RENEWING: the client fills ciaddr
    assert renew["KEA_LEASE4_HWADDR"] == MAC_A
    assert (renew["KEA_SUBNET4"], renew["KEA_LEASE4_SUBNET_ID"]) == (SUBNET4, "1")


def test_lease4_decline(v4):
    decline = one(v4.calls, "lease4_decline").env
    assert decline["KEA_LEASE4_ADDRESS"] == v4.ack_b.yiaddr
    assert decline["KEA_QUERY4_TYPE"] == "DHCPDECLINE"
    assert decline["KEA_QUERY4_REQUESTED_ADDRESS"] == v4.ack_b.yiaddr
    assert (decline["KEA_QUERY4_HWADDR"], decline["KEA_LEASE4_HWADDR"]) == (MAC_B, MAC_B)
    assert decline["KEA_LEASE4_STATE"] == "default"  # declined only once the callout lets it be


def test_lease4_release(v4):
    release = one(v4.calls, "lease4_release", KEA_QUERY4_HWADDR=MAC_C).env
    assert release["KEA_LEASE4_ADDRESS"] == release["KEA_QUERY4_CIADDR"] == v4.ack_c.yiaddr
    assert release["KEA_QUERY4_TYPE"] == "DHCPRELEASE"
    assert (release["KEA_LEASE4_HWADDR"], release["KEA_LEASE4_STATE"]) == (MAC_C, "default")


def test_lease4_expire(v4):
    for ack, mac, subnet_id in ((v4.ack_a, MAC_A, "1"), (v4.ack_r, MAC_R, "2")):
        expire = one(v4.calls, "lease4_expire", KEA_LEASE4_ADDRESS=ack.yiaddr).env
        assert (expire["KEA_LEASE4_HWADDR"], expire["KEA_LEASE4_STATE"]) == (mac, "default")
        assert expire["KEA_LEASE4_SUBNET_ID"] == subnet_id
        # The lab keeps reclaimed leases (flush-reclaimed-timer-wait-time > 0).
        assert expire["KEA_REMOVE_LEASE"] == "0"
        assert not any(name.startswith("KEA_QUERY4_") for name in expire)  # no packet behind it
    declined = one(v4.calls, "lease4_expire", KEA_LEASE4_ADDRESS=v4.ack_b.yiaddr).env
    # Kea wipes a declined lease's identity: no MAC, no client-id.
    assert (declined["KEA_LEASE4_STATE"], declined["KEA_LEASE4_HWADDR"]) == ("declined", "")


def test_lease4_recover_after_decline(v4):
    recover = one(v4.calls, "lease4_recover").env
    assert recover["KEA_LEASE4_ADDRESS"] == v4.ack_b.yiaddr
    assert recover["KEA_LEASE4_STATE"] == "declined"
    assert recover["KEA_LEASE4_SUBNET_ID"] == "1"


# --- through a relay --------------------------------------------------------------------

def test_relayed_query_carries_giaddr_and_option_82(v4):
    rai = reference.hex0x(option82(CIRCUIT_ID, REMOTE_ID, SUBSCRIBER_ID))
    relayed = matching(v4.calls, KEA_QUERY4_HWADDR=MAC_R)
    assert {c.hook for c in relayed} == {"pkt4_receive", "subnet4_select", "lease4_select", "pkt4_send"}
    for call in relayed:
        env = call.env
        assert (env["KEA_QUERY4_GIADDR"], env["KEA_QUERY4_RELAYED"], env["KEA_QUERY4_RELAY_HOPS"]) == (
            RELAY_V4, "1", "1")
        assert env["KEA_QUERY4_RAI"] == rai
        assert env["KEA_QUERY4_RAI_CIRCUIT_ID"] == reference.hex0x(CIRCUIT_ID)
        assert env["KEA_QUERY4_RAI_REMOTE_ID"] == reference.hex0x(REMOTE_ID)
        assert env["KEA_QUERY4_RAI_SUBSCRIBER_ID"] == reference.hex0x(SUBSCRIBER_ID)
        if call.hook in ("subnet4_select", "lease4_select"):
            assert (env["KEA_SUBNET4"], env["KEA_SUBNET4_PREFIX"], env["KEA_SUBNET4_PREFIXLEN"]) == (
                RELAYED_SUBNET4, "10.0.0.0", "8")

    discover = one(v4.calls, "lease4_select", KEA_QUERY4_HWADDR=MAC_R, KEA_QUERY4_TYPE="DHCPDISCOVER").env
    request = one(v4.calls, "lease4_select", KEA_QUERY4_HWADDR=MAC_R, KEA_QUERY4_TYPE="DHCPREQUEST").env
    assert (discover["KEA_FAKE_ALLOCATION"], discover["KEA_LEASE4_ADDRESS"]) == ("1", v4.offer_r.yiaddr)
    assert (request["KEA_FAKE_ALLOCATION"], request["KEA_LEASE4_ADDRESS"]) == ("0", v4.ack_r.yiaddr)
    assert request["KEA_LEASE4_SUBNET_ID"] == "2"
    assert request["KEA_LEASE4_HOSTNAME"] == "relayed-host"

    ack = one(v4.calls, "pkt4_send", KEA_QUERY4_HWADDR=MAC_R, KEA_QUERY4_TYPE="DHCPREQUEST").env
    assert (ack["KEA_RESPONSE4_TYPE"], ack["KEA_RESPONSE4_YIADDR"]) == ("DHCPACK", v4.ack_r.yiaddr)
    assert ack["KEA_RESPONSE4_GIADDR"] == RELAY_V4
    assert ack["KEA_RESPONSE4_RAI"] == rai  # Kea echoes option 82 to the relay


# --- a real client ------------------------------------------------------------------------

def test_dhclient_lease_and_release(v4):
    mac, address = v4.dhclient_mac, v4.dhclient_address
    selected = matching(v4.calls, "lease4_select", KEA_FAKE_ALLOCATION="0", KEA_LEASE4_HWADDR=mac)
    assert selected and {c.env["KEA_LEASE4_ADDRESS"] for c in selected} == {address}
    assert selected[0].env["KEA_QUERY4_HWADDR"] == mac
    acks = matching(v4.calls, "pkt4_send", KEA_QUERY4_HWADDR=mac, KEA_RESPONSE4_TYPE="DHCPACK")
    assert acks and {c.env["KEA_RESPONSE4_YIADDR"] for c in acks} == {address}
    release = one(v4.calls, "lease4_release", KEA_QUERY4_HWADDR=mac).env
    assert (release["KEA_LEASE4_ADDRESS"], release["KEA_LEASE4_HWADDR"]) == (address, mac)


# --- not from the scenario -------------------------------------------------------------------

@pytest.mark.time_limit(30)
def test_lease4_expire_says_remove_lease_when_kea_does_not_keep_reclaimed_leases(lab, hook_so):
    rec = lab.recorder()
    lab.start_kea(lab.config4(valid_lifetime=2, reclaim={"flush-reclaimed-timer-wait-time": 0},
                              hooks=[hook(hook_so, script=rec.script, wait=True, hooks=["lease4_expire"])]))
    ack = lab.dhcp4().dora(MAC_A)
    (expire,) = rec.wait_for("lease4_expire", timeout=10)
    assert (expire.env["KEA_LEASE4_ADDRESS"], expire.env["KEA_REMOVE_LEASE"]) == (ack.yiaddr, "1")


def test_format_rules_accept_every_value_of_the_original():
    """The format checks above are the recording's formats: each example
    value the original passed satisfies its rule."""
    for hook_point, variables in reference.load(4).items():
        for name, values in variables.items():
            for value in values:
                assert not reference.format_errors({name: value}, reference.RECORDED_WITH), (hook_point, name, value)


@pytest.mark.parametrize("name, value", [
    ("KEA_QUERY4_HWADDR", "02:AA:BB:CC:DD:01"),  # upper case
    ("KEA_QUERY4_HWADDR", "02aabbccdd01"),
    ("KEA_QUERY4_RAI", "0x0104657"),             # odd number of digits
    ("KEA_QUERY4_RAI", "0x0104ab"),              # lower case
    ("KEA_QUERY4_RAI", "010465"),                # no 0x
    ("KEA_LEASE4_ADDRESS", "192.0.2.010"),
    ("KEA_SUBNET4", "192.0.2.1/24"),             # host bits
    ("KEA_FAKE_ALLOCATION", "true"),
    ("KEA_QUERY4_TYPE", "DISCOVER"),
    ("KEA_LEASE4_STATE", "expired"),
    ("KEA_LEASE4_VALID_LIFETIME", "020"),
    ("KEA_QUERY4_SOMETHING_NEW", "1"),           # every variable needs a known format
    ("PATH", "/usr/bin:/bin"),
])
def test_format_rules_reject(name, value):
    assert reference.format_errors({name: value})


@pytest.mark.parametrize("env", [
    {"KEA_QUERY4_TYPE": "DHCPDISCOVER"},                                   # no PATH
    {"PATH": "/usr/bin:/bin"},
    {"PATH": reference.PATH, "HOME": "/root"},                             # not KEA_*
    {"PATH": reference.PATH, "KEA_TEST_CANARY": "from-kea-environment"},  # Kea's own, though KEA_*
    {"PATH": reference.PATH, "KEA_LOCKFILE_DIR": "/run/kea"},
])
def test_environment_check_rejects(env):
    assert reference.environment_errors(env)
    assert not reference.environment_errors({"PATH": reference.PATH, "KEA_QUERY4_TYPE": "DHCPDISCOVER"})
