"""The newer variables end to end, with hand-built packets whose every
byte is known: "options" (KEA_QUERY4_OPTION<code>, KEA_QUERY6_OPTION<code>),
the v4 client identity options, option 82 subscriber-id, the v6 relay
chain, and the committed-leases hook points."""

import ipaddress

from scapy.layers import dhcp6 as d6

from configtools import Raw4, Raw6, fqdn_option
from lab.dhcp6 import duid_text
from reference import hex0x
from lab import hook

MAC = "02:dd:00:00:00:01"
PRL = [1, 3, 6, 15, 119, 252]


def _pkt4_receive_lab(lab, hook_so, **params):
    rec = lab.recorder()
    kea4 = lab.start_kea(lab.config4(hooks=[hook(hook_so, script=rec.script, hooks=["pkt4_receive"], **params)]))
    return rec, kea4


# --- "options" -------------------------------------------------------------------

def test_options_v4_parameter_request_list(lab, hook_so):
    rec, _ = _pkt4_receive_lab(lab, hook_so, options=[55, 77])
    with Raw4(lab.net) as raw:
        kind, offer = raw.send(MAC, "discover", [("param_req_list", PRL)])
        assert kind == "DHCPOFFER"
        raw.send("02:dd:00:00:00:02", "discover")  # no option 55 at all
    with_prl, without = rec.wait_for("pkt4_receive", count=2)
    assert with_prl.env["KEA_QUERY4_OPTION55"] == "0x0103060F77FC" == hex0x(bytes(PRL))
    assert "KEA_QUERY4_OPTION77" not in with_prl.env  # listed, not sent: absent
    assert not [name for name in without.env if name.startswith("KEA_QUERY4_OPTION")]


def test_options_are_per_script(lab, hook_so):
    """Each script gets the options it lists, not those another script asked for."""
    prl, host = lab.recorder("prl"), lab.recorder("host")
    lab.start_kea(lab.config4(hooks=[hook(hook_so, hooks=["pkt4_receive"], scripts=[
        {"script": prl.script, "options": [55]}, {"script": host.script, "options": [12, 61]}])]))
    with Raw4(lab.net) as raw:
        raw.send(MAC, "discover", [("param_req_list", PRL), ("hostname", b"client-a"), ("client_id", b"\x01\x02")])
    (with_prl,) = prl.wait_for("pkt4_receive")
    (with_host,) = host.wait_for("pkt4_receive")
    assert [n for n in with_prl.env if n.startswith("KEA_QUERY4_OPTION")] == ["KEA_QUERY4_OPTION55"]
    assert sorted(n for n in with_host.env if n.startswith("KEA_QUERY4_OPTION")) == [
        "KEA_QUERY4_OPTION12", "KEA_QUERY4_OPTION61"]
    assert with_host.env["KEA_QUERY4_OPTION12"] == hex0x(b"client-a")
    assert with_host.env["KEA_QUERY4_OPTION61"] == "0x0102"


def test_options_v6_vendor_and_user_class(lab, hook_so):
    rec = lab.recorder()
    lab.start_kea(lab.config6(hooks=[hook(hook_so, script=rec.script, hooks=["pkt6_receive"], options=[16, 15, 39])]))
    vendor_class = d6.DHCP6OptVendorClass(enterprisenum=4491, vcdata=[d6.VENDOR_CLASS_DATA(data=b"docsis3.0")])
    user_class = d6.DHCP6OptUserClass(userclassdata=[d6.USER_CLASS_DATA(data=b"lab-class")])
    with Raw6(lab.net) as raw:
        assert raw.solicit(MAC, [vendor_class, user_class]).msgtype == 2
    (call,) = rec.wait_for("pkt6_receive")
    # The option's payload, header excluded: enterprise number, then each length-prefixed datum.
    assert call.env["KEA_QUERY6_OPTION16"] == hex0x(bytes(vendor_class)[4:]) == "0x0000118B0009646F63736973332E30"
    assert call.env["KEA_QUERY6_OPTION15"] == hex0x(bytes(user_class)[4:]) == "0x00096C61622D636C617373"
    assert "KEA_QUERY6_OPTION39" not in call.env
    assert call.env["KEA_QUERY6_DUID"] == duid_text(MAC)


# --- v4 client identity and relay agent information ---------------------------------

def test_v4_identity_variables_carry_what_the_client_sent(lab, hook_so):
    rec, _ = _pkt4_receive_lab(lab, hook_so)
    client_id = b"\x01\x02\xdd\x00\x00\x00\x01"
    with Raw4(lab.net) as raw:
        kind, offer = raw.send(MAC, "discover", [
            ("client_id", client_id), ("requested_addr", "192.0.2.77"), ("hostname", b"client-a"),
            (81, fqdn_option("client-a.example.org."))])
        assert kind == "DHCPOFFER" and offer.yiaddr == "192.0.2.77"  # Kea honoured option 50
        raw.send("02:dd:00:00:00:02", "discover")  # none of them
    sent, bare = rec.wait_for("pkt4_receive", count=2)
    env = sent.env
    assert env["KEA_QUERY4_CLIENT_ID"] == "01:02:dd:00:00:00:01"
    assert env["KEA_QUERY4_REQUESTED_ADDRESS"] == "192.0.2.77"
    assert env["KEA_QUERY4_HOSTNAME"] == "client-a"
    assert env["KEA_QUERY4_FQDN"] == "client-a.example.org."
    assert env["KEA_QUERY4_HWADDR"] == MAC
    for name in ("CLIENT_ID", "REQUESTED_ADDRESS", "HOSTNAME", "FQDN", "RAI", "RAI_SUBSCRIBER_ID"):
        assert f"KEA_QUERY4_{name}" not in bare.env, name


def test_v4_identity_on_the_lease_and_relay_subscriber_id(lab, hook_so):
    rec = lab.recorder()
    lab.start_kea(lab.config4(hooks=[hook(hook_so, script=rec.script, hooks=["pkt4_receive", "lease4_select"])]))
    relay = lab.dhcp4()
    client_id = b"\x01\x02\xdd\x00\x00\x00\x03"
    offer = relay.relayed_discover("02:dd:00:00:00:03", circuit_id="eth0/7", remote_id=b"\x00\x11\x22",
                                   subscriber_id="sub-42", client_id=client_id, hostname="relayed")
    ack = relay.relayed_request("02:dd:00:00:00:03", offer.yiaddr, offer.server_id, subscriber_id=b"\x00sub\xff",
                                client_id=client_id)
    assert ack.type == "DHCPACK"
    received = rec.calls("pkt4_receive")
    assert [c.env["KEA_QUERY4_RAI_SUBSCRIBER_ID"] for c in received] == ["0x7375622D3432", "0x00737562FF"]
    assert received[0].env["KEA_QUERY4_RAI_CIRCUIT_ID"] == "0x657468302F37"
    assert received[0].env["KEA_QUERY4_RAI_REMOTE_ID"] == "0x001122"
    assert "KEA_QUERY4_RAI_CIRCUIT_ID" not in received[1].env
    assert received[0].env["KEA_QUERY4_GIADDR"] == "192.0.2.2"
    # On the lease: client id, and the relayed subnet's id (2).
    selected = rec.calls("lease4_select")[-1].env
    assert (selected["KEA_FAKE_ALLOCATION"], selected["KEA_LEASE4_ADDRESS"]) == ("0", ack.yiaddr)
    assert selected["KEA_LEASE4_CLIENT_ID"] == "01:02:dd:00:00:00:03"
    assert selected["KEA_LEASE4_SUBNET_ID"] == "2"
    assert selected["KEA_SUBNET4"] == "10.0.0.0/8"


# --- v6 relay chain -------------------------------------------------------------------

def test_v6_single_relay(lab, hook_so):
    rec = lab.recorder()
    lab.start_kea(lab.config6(hooks=[hook(hook_so, script=rec.script, hooks=["pkt6_receive", "lease6_select"])]))
    adv = lab.dhcp6().relayed_solicit("02:dd:00:00:00:04", link_address="2001:db8:1::2", peer_address="fe80::99",
                                      interface_id="eth0/1", remote_id=b"\xde\xad\xbe\xef", enterprise=4491,
                                      subscriber_id="sub-1")
    assert adv.type == "ADVERTISE"
    received = rec.wait_for("pkt6_receive")[0].env
    assert received["KEA_QUERY6_RELAY_HOPS"] == "1"
    assert received["KEA_QUERY6_RELAY0_LINK_ADDRESS"] == "2001:db8:1::2"
    assert received["KEA_QUERY6_RELAY0_PEER_ADDRESS"] == "fe80::99"
    assert received["KEA_QUERY6_RELAY0_HOP_COUNT"] == "0"
    assert received["KEA_QUERY6_RELAY0_INTERFACE_ID"] == hex0x(b"eth0/1")
    assert received["KEA_QUERY6_RELAY0_REMOTE_ID"] == "0x0000118BDEADBEEF"  # enterprise 4491 included
    assert received["KEA_QUERY6_RELAY0_SUBSCRIBER_ID"] == hex0x(b"sub-1")
    assert not [name for name in received if name.startswith("KEA_QUERY6_RELAY1_")]
    assert received["KEA_QUERY6_DUID"] == duid_text("02:dd:00:00:00:04")
    # The relay data is there at later hook points too, and the lease is in the relay's link.
    selected = rec.wait_for("lease6_select")[0].env
    assert selected["KEA_QUERY6_RELAY0_INTERFACE_ID"] == hex0x(b"eth0/1")
    assert selected["KEA_LEASE6_ADDRESS"] == adv.addresses[0]
    assert selected["KEA_LEASE6_SUBNET_ID"] == "1"


def test_v6_relay_chain_hop0_is_nearest_the_client(lab, hook_so):
    rec = lab.recorder()
    lab.start_kea(lab.config6(hooks=[hook(hook_so, script=rec.script, hooks=["pkt6_receive"])]))
    with Raw6(lab.net) as raw:
        inner = raw.message(d6.DHCP6_Solicit, "02:dd:00:00:00:05", [d6.DHCP6OptIA_NA(iaid=1)])
        reply = raw.send_relayed(inner, [
            {"link": "2001:db8:1::2", "peer": "fe80::99", "interface_id": b"access-1", "remote_id": (9, b"\x01\x02"),
             "subscriber_id": b"sub-A"},
            {"link": "::", "peer": "fe80::2", "interface_id": b"aggregation-7"},
        ])
        assert reply is not None  # Kea answered through both relays
    env = rec.wait_for("pkt6_receive")[0].env
    assert env["KEA_QUERY6_RELAY_HOPS"] == "2"
    relays = [{key: env.get(f"KEA_QUERY6_RELAY{i}_{key}") for key in
               ("LINK_ADDRESS", "PEER_ADDRESS", "HOP_COUNT", "INTERFACE_ID", "REMOTE_ID", "SUBSCRIBER_ID")}
              for i in (0, 1)]
    assert relays == [
        {"LINK_ADDRESS": "2001:db8:1::2", "PEER_ADDRESS": "fe80::99", "HOP_COUNT": "0",
         "INTERFACE_ID": hex0x(b"access-1"), "REMOTE_ID": "0x000000090102", "SUBSCRIBER_ID": hex0x(b"sub-A")},
        {"LINK_ADDRESS": "::", "PEER_ADDRESS": "fe80::2", "HOP_COUNT": "1",
         "INTERFACE_ID": hex0x(b"aggregation-7"), "REMOTE_ID": None, "SUBSCRIBER_ID": None},
    ]
    assert "KEA_QUERY6_RELAY2_LINK_ADDRESS" not in env


def test_v6_not_relayed_has_zero_hops(lab, hook_so):
    rec = lab.recorder()
    lab.start_kea(lab.config6(hooks=[hook(hook_so, script=rec.script, hooks=["pkt6_receive"])]))
    lab.dhcp6().solicit("02:dd:00:00:00:06")
    env = rec.wait_for("pkt6_receive")[0].env
    assert env["KEA_QUERY6_RELAY_HOPS"] == "0"
    assert not [name for name in env if name.startswith("KEA_QUERY6_RELAY0")]


# --- leases4_committed / leases6_committed ----------------------------------------------

def test_leases4_committed_after_dora_and_release(lab, hook_so):
    rec = lab.recorder()
    lab.start_kea(lab.config4(hooks=[hook(hook_so, script=rec.script, hooks=["leases4_committed"])]))
    client = lab.dhcp4()
    ack = client.dora(MAC, hostname="client-a")
    (granted,) = rec.wait_for("leases4_committed")  # once: the DISCOVER commits nothing
    env = granted.env
    assert env["KEA_QUERY4_TYPE"] == "DHCPREQUEST"
    assert env["KEA_LEASES4_COUNT"] == "1"
    assert env["KEA_LEASES4_AT0_ADDRESS"] == ack.yiaddr
    assert env["KEA_LEASES4_AT0_HWADDR"] == MAC
    assert env["KEA_LEASES4_AT0_HOSTNAME"] == "client-a"
    assert (env["KEA_LEASES4_AT0_SUBNET_ID"], env["KEA_LEASES4_AT0_VALID_LIFETIME"]) == ("1", "20")
    assert env["KEA_LEASES4_AT0_STATE"] == "default"
    assert env["KEA_DELETED_LEASES4_COUNT"] == "0"
    assert "KEA_LEASES4_AT1_ADDRESS" not in env and "KEA_DELETED_LEASES4_AT0_ADDRESS" not in env

    client.release(MAC, ack.yiaddr, ack.server_id)
    released = rec.wait_for("leases4_committed", count=2)[1].env
    assert released["KEA_QUERY4_TYPE"] == "DHCPRELEASE"
    assert released["KEA_LEASES4_COUNT"] == "0"
    assert released["KEA_DELETED_LEASES4_COUNT"] == "1"
    assert released["KEA_DELETED_LEASES4_AT0_ADDRESS"] == ack.yiaddr
    assert released["KEA_DELETED_LEASES4_AT0_HWADDR"] == MAC
    assert "KEA_LEASES4_AT0_ADDRESS" not in released


def test_leases6_committed_na_and_pd(lab, hook_so):
    rec = lab.recorder()
    lab.start_kea(lab.config6(hooks=[hook(hook_so, script=rec.script, hooks=["leases6_committed"])]))
    client = lab.dhcp6()
    reply = client.sarr(MAC, na=True, pd=True, iaid_na=7, iaid_pd=8)
    (granted,) = rec.wait_for("leases6_committed")  # the SOLICIT (no rapid commit) commits nothing
    env = granted.env
    assert env["KEA_QUERY6_TYPE"] == "REQUEST"
    assert env["KEA_LEASES6_COUNT"] == "2"
    leases = {env[f"KEA_LEASES6_AT{i}_TYPE"]: i for i in (0, 1)}
    assert set(leases) == {"IA_NA", "IA_PD"}
    na, pd = leases["IA_NA"], leases["IA_PD"]
    assert env[f"KEA_LEASES6_AT{na}_ADDRESS"] == reply.addresses[0]
    assert env[f"KEA_LEASES6_AT{na}_IAID"] == "7"
    assert f"KEA_LEASES6_AT{na}_DELEGATED_PREFIX" not in env
    assert env[f"KEA_LEASES6_AT{pd}_DELEGATED_PREFIX"] == reply.prefixes[0]
    assert env[f"KEA_LEASES6_AT{pd}_ADDRESS"] == reply.prefixes[0].split("/")[0]
    assert (env[f"KEA_LEASES6_AT{pd}_DELEGATED_PREFIXLEN"], env[f"KEA_LEASES6_AT{pd}_IAID"]) == ("56", "8")
    assert ipaddress.ip_network(reply.prefixes[0]).subnet_of(ipaddress.ip_network("2001:db8:8000::/48"))
    for i in (na, pd):
        assert env[f"KEA_LEASES6_AT{i}_CLIENT_DUID"] == duid_text(MAC)
        assert env[f"KEA_LEASES6_AT{i}_SUBNET_ID"] == "1"
    assert env["KEA_DELETED_LEASES6_COUNT"] == "0"

    client.release(MAC, reply)
    released = rec.wait_for("leases6_committed", count=2)[1].env
    assert released["KEA_QUERY6_TYPE"] == "RELEASE"
    assert released["KEA_LEASES6_COUNT"] == "0"
    assert released["KEA_DELETED_LEASES6_COUNT"] == "2"
    assert {released[f"KEA_DELETED_LEASES6_AT{i}_ADDRESS"] for i in (0, 1)} == {
        reply.addresses[0], reply.prefixes[0].split("/")[0]}
    assert {released[f"KEA_DELETED_LEASES6_AT{i}_TYPE"] for i in (0, 1)} == {"IA_NA", "IA_PD"}


def test_leases_committed_after_decline_lists_the_declined_lease(lab, hook_so):
    """Kea 2.2 quirk, pinned here: after a DECLINE, leases4_committed and
    leases6_committed get the declined lease in the *granted* list (state
    declined), not in the deleted one."""
    rec4, rec6 = lab.recorder("v4"), lab.recorder("v6")
    lab.start_kea(lab.config4(hooks=[hook(hook_so, script=rec4.script, hooks=["leases4_committed"])]))
    lab.start_kea(lab.config6(hooks=[hook(hook_so, script=rec6.script, hooks=["leases6_committed"])]))
    client4, client6 = lab.dhcp4(), lab.dhcp6()
    ack = client4.dora(MAC)
    client4.decline(MAC, ack.yiaddr, ack.server_id)
    reply = client6.sarr(MAC)
    client6.decline(MAC, reply)

    declined4 = rec4.wait_for("leases4_committed", count=2)[1].env
    assert declined4["KEA_QUERY4_TYPE"] == "DHCPDECLINE"
    assert (declined4["KEA_LEASES4_COUNT"], declined4["KEA_DELETED_LEASES4_COUNT"]) == ("1", "0")
    assert (declined4["KEA_LEASES4_AT0_ADDRESS"], declined4["KEA_LEASES4_AT0_STATE"]) == (ack.yiaddr, "declined")
    declined6 = rec6.wait_for("leases6_committed", count=2)[1].env
    assert declined6["KEA_QUERY6_TYPE"] == "DECLINE"
    assert (declined6["KEA_LEASES6_COUNT"], declined6["KEA_DELETED_LEASES6_COUNT"]) == ("1", "0")
    assert (declined6["KEA_LEASES6_AT0_ADDRESS"], declined6["KEA_LEASES6_AT0_STATE"]) == (reply.addresses[0],
                                                                                          "declined")
