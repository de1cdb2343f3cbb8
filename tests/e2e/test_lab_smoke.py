"""The lab itself works, without our hook: real Kea answers every client the
lab has, the recorder sees what Debian's own run_script hook passes, and
nothing is left behind."""

import ipaddress
import os
import subprocess

import pytest

from lab import Lab, Recorder, hook, wait_until
from lab.kea import DEBIAN_HOOKS_DIR

DEBIAN_RUN_SCRIPT = os.path.join(DEBIAN_HOOKS_DIR, "libdhcp_run_script.so")


def in_net(address, network):
    return ipaddress.ip_address(address) in ipaddress.ip_network(network)


def in_pool4(address):
    return ipaddress.IPv4Address("192.0.2.10") <= ipaddress.IPv4Address(address) <= ipaddress.IPv4Address("192.0.2.100")


# --- DHCPv4 ------------------------------------------------------------------

def test_scapy_dora_gets_an_address(lab):
    kea4 = lab.start_kea(lab.config4())
    ack = lab.dhcp4().dora("02:aa:bb:cc:dd:01", hostname="client-a", vendor_class="MSFT 5.0",
                           client_id=b"\x01\x02\xaa\xbb\xcc\xdd\x01")
    assert in_pool4(ack.yiaddr)
    assert ack.server_id == "192.0.2.1"
    assert ack.options["lease_time"] == 20
    kea4.wait_log(rf"DHCP4_LEASE_ALLOC .*02:aa:bb:cc:dd:01.*lease {ack.yiaddr} ")


def test_scapy_renew_decline_release(lab):
    kea4 = lab.start_kea(lab.config4())
    client = lab.dhcp4()
    ack = client.dora("02:aa:bb:cc:dd:01")
    renewed = client.renew("02:aa:bb:cc:dd:01", ack.yiaddr)
    assert (renewed.type, renewed.yiaddr) == ("DHCPACK", ack.yiaddr)
    client.release("02:aa:bb:cc:dd:01", ack.yiaddr, ack.server_id)
    kea4.wait_log(rf"DHCP4_RELEASE .*address {ack.yiaddr} was released")

    other = client.dora("02:aa:bb:cc:dd:02")
    client.decline("02:aa:bb:cc:dd:02", other.yiaddr, other.server_id)
    kea4.wait_log(rf"DHCP4_DECLINE_LEASE .*addr {other.yiaddr} ")


def test_relayed_discover_gets_offer_from_relayed_subnet(lab):
    kea4 = lab.start_kea(lab.config4())
    relay = lab.dhcp4()
    offer = relay.relayed_discover("02:aa:bb:cc:dd:ee", circuit_id="eth0", remote_id=bytes.fromhex("02aabbccddee"),
                                   subscriber_id="sub-42", hostname="relayed-host")
    assert offer.type == "DHCPOFFER"
    assert in_net(offer.yiaddr, "10.0.0.0/8")
    assert offer.packet.giaddr == "192.0.2.2"
    ack = relay.relayed_request("02:aa:bb:cc:dd:ee", offer.yiaddr, offer.server_id, circuit_id="eth0")
    assert (ack.type, ack.yiaddr) == ("DHCPACK", offer.yiaddr)
    kea4.wait_log(r"DHCP4_PACKET_RECEIVED .*DHCPDISCOVER .*received from 192\.0\.2\.2 to 192\.0\.2\.1")


def test_dhclient4_lease_and_release(lab):
    kea4 = lab.start_kea(lab.config4())
    dhclient = lab.dhclient()
    address = dhclient.lease4()
    assert in_pool4(address)
    dhclient.release4()
    kea4.wait_log(rf"DHCP4_RELEASE .*address {address} was released")


def test_perfdhcp_load_is_bounded(lab):
    """perfdhcp starts a fixed number of DORAs and stops by itself; Kea
    answers every message it sent. (On a busy machine perfdhcp may start a
    few more, and then count the last answers as lost: see lab.perfdhcp.
    What Kea answered is counted on Kea's side.)"""
    kea4 = lab.start_kea(lab.config4(multi_threading=True, log_debuglevel=0))
    result = lab.perfdhcp(exchanges=200, rate=200)
    assert result.returncode in (0, 3), result.output  # 3: "drops" (see above)
    discovers, requests = result.sent("DISCOVER-OFFER"), result.sent("REQUEST-ACK")
    assert discovers >= 200 and requests >= 200, result.output

    def sent(name):
        return kea4.command("statistic-get", {"name": name})[name][0][0]
    wait_until(lambda: sent("pkt4-offer-sent") >= discovers and sent("pkt4-ack-sent") >= requests, timeout=5,
               what=f"Kea to answer {discovers} DISCOVERs and {requests} REQUESTs")
    assert (sent("pkt4-offer-sent"), sent("pkt4-ack-sent")) == (discovers, requests)


# --- DHCPv6 ------------------------------------------------------------------

def test_dhclient6_gets_address_and_prefix(lab):
    kea6 = lab.start_kea(lab.config6())
    dhclient = lab.dhclient()
    lease = dhclient.lease6(na=True, pd=True)
    assert len(lease.addresses) == 1 and in_net(lease.addresses[0], "2001:db8:1::/64")
    assert len(lease.prefixes) == 1 and lease.prefixes[0].endswith("/56")
    assert in_net(lease.prefixes[0].split("/")[0], "2001:db8:8000::/48")
    dhclient.release6()
    kea6.wait_log(rf"DHCP6_RELEASE_NA .*{lease.addresses[0]}")
    kea6.wait_log(r"DHCP6_RELEASE_PD")


def test_scapy_v6_exchanges(lab):
    lab.start_kea(lab.config6())
    client = lab.dhcp6()
    mac = "02:00:00:00:01:c7"
    reply = client.sarr(mac, na=True, pd=True, fqdn="host.example.com.", iaid_na=7, iaid_pd=8)
    assert [ia.iaid for ia in reply.ias] == [7, 8]
    assert in_net(reply.addresses[0], "2001:db8:1::/64")
    assert in_net(reply.prefixes[0].split("/")[0], "2001:db8:8000::/48")
    for exchange in (client.renew, client.rebind):
        again = exchange(mac, reply)
        assert (again.type, again.addresses, again.prefixes) == ("REPLY", reply.addresses, reply.prefixes)
    released = client.release(mac, reply)
    assert [ia.status[0] for ia in released.ias] == [0, 0]

    other = client.sarr("02:00:00:00:01:7f")
    declined = client.decline("02:00:00:00:01:7f", other)
    assert declined.ias[0].status[0] == 0


def test_relayed_solicit(lab):
    lab.start_kea(lab.config6())
    adv = lab.dhcp6().relayed_solicit("02:00:00:00:01:99", link_address="2001:db8:1::2", peer_address="fe80::99",
                                      interface_id="eth0/1", remote_id=b"\xde\xad\xbe\xef", subscriber_id="sub-1",
                                      pd=True)
    assert adv.type == "ADVERTISE"
    assert in_net(adv.addresses[0], "2001:db8:1::/64") and adv.prefixes
    assert adv.relay.peeraddr == "fe80::99"
    assert adv.relay.getlayer("DHCP6OptIfaceId").ifaceid == b"eth0/1"  # Kea echoes the interface-id


# --- the recorder, fed by Debian's run_script hook ---------------------------

def test_recorder_with_debian_run_script_v4(lab):
    rec = lab.recorder()
    lab.start_kea(lab.config4(hooks=[hook(DEBIAN_RUN_SCRIPT, name=rec.script, sync=False)]))
    ack = lab.dhcp4().dora("02:aa:bb:cc:dd:01", hostname="client-a")
    (call,) = rec.wait_for("leases4_committed")
    assert call.argv == ["leases4_committed"]
    assert call.env["LEASES4_AT0_ADDRESS"] == ack.yiaddr
    assert call.env["LEASES4_AT0_HOSTNAME"] == "client-a"
    assert call.env["QUERY4_TYPE"] == "DHCPREQUEST"
    assert "PATH" not in call.env  # run_script passes nothing but its own variables


def test_recorder_with_debian_run_script_v6(lab):
    rec = lab.recorder()
    lab.start_kea(lab.config6(hooks=[hook(DEBIAN_RUN_SCRIPT, name=rec.script, sync=False)]))
    reply = lab.dhcp6().sarr("02:00:00:00:01:c7", na=True, pd=True)
    (call,) = rec.wait_for("leases6_committed")
    leased = {call.env["LEASES6_AT0_ADDRESS"], call.env["LEASES6_AT1_ADDRESS"]}
    assert leased == {reply.addresses[0], reply.prefixes[0].split("/")[0]}


def test_recorder_is_byte_exact(tmp_path):
    rec = Recorder(tmp_path)
    weird = b"line1\nline2=x\xff\x01 'quoted' $HOME"
    subprocess.run(["env", "-i", b"KEA_WEIRD=" + weird, "KEA_EMPTY=", rec.script, "lease4_renew"], check=True)
    subprocess.run(["env", "-i", "KEA_N=2", rec.script, "pkt4_send"], check=True)
    first, second = rec.calls()
    assert first.raw_env == {"KEA_WEIRD": weird, "KEA_EMPTY": b""}
    assert (first.hook, second.hook, second.env) == ("lease4_renew", "pkt4_send", {"KEA_N": "2"})
    assert first.time_ns <= second.time_ns


@pytest.mark.time_limit(40)
def test_lab_drives_every_v4_lease_event(lab):
    """renew, decline, release, expire and recover all reach a hook."""
    rec = lab.recorder()
    lab.start_kea(lab.config4(valid_lifetime=3, hooks=[hook(DEBIAN_RUN_SCRIPT, name=rec.script, sync=False)]))
    client = lab.dhcp4()
    kept = client.dora("02:aa:bb:cc:dd:01")
    client.renew("02:aa:bb:cc:dd:01", kept.yiaddr)
    declined = client.dora("02:aa:bb:cc:dd:02")
    client.decline("02:aa:bb:cc:dd:02", declined.yiaddr, declined.server_id)
    released = client.dora("02:aa:bb:cc:dd:03")
    client.release("02:aa:bb:cc:dd:03", released.yiaddr, released.server_id)

    assert rec.wait_for("lease4_renew")[0].env["LEASE4_ADDRESS"] == kept.yiaddr
    assert rec.wait_for("lease4_decline")[0].env["LEASE4_ADDRESS"] == declined.yiaddr
    assert rec.wait_for("lease4_release")[0].env["LEASE4_ADDRESS"] == released.yiaddr
    recovered = rec.wait_for("lease4_recover", timeout=15)[0].env
    assert (recovered["LEASE4_ADDRESS"], recovered["LEASE4_STATE"]) == (declined.yiaddr, "declined")
    expired = rec.wait_for_each("lease4_expire", "LEASE4_ADDRESS", {kept.yiaddr, declined.yiaddr}, timeout=15)
    assert expired[kept.yiaddr].env["REMOVE_LEASE"] == "false"


@pytest.mark.time_limit(40)
def test_lab_drives_every_v6_lease_event(lab):
    """renew, rebind, decline, release, expire and recover all reach a hook."""
    rec = lab.recorder()
    lab.start_kea(lab.config6(valid_lifetime=3, hooks=[hook(DEBIAN_RUN_SCRIPT, name=rec.script, sync=False)]))
    client = lab.dhcp6()
    kept = client.sarr("02:00:00:00:01:c7", pd=True)
    client.renew("02:00:00:00:01:c7", kept)
    client.rebind("02:00:00:00:01:c7", kept)
    declined = client.sarr("02:00:00:00:01:7f")
    client.decline("02:00:00:00:01:7f", declined)
    released = client.sarr("02:00:00:00:01:3f", pd=True)
    client.release("02:00:00:00:01:3f", released)

    kept_leases = set(kept.addresses) | {p.split("/")[0] for p in kept.prefixes}
    for event in ("lease6_renew", "lease6_rebind"):
        assert {c.env["LEASE6_ADDRESS"] for c in rec.wait_for(event, count=2)} == kept_leases
    assert rec.wait_for("lease6_decline")[0].env["LEASE6_ADDRESS"] == declined.addresses[0]
    assert {c.env["LEASE6_TYPE"] for c in rec.wait_for("lease6_release", count=2)} == {"IA_NA", "IA_PD"}
    recovered = rec.wait_for("lease6_recover", timeout=15)[0].env
    assert (recovered["LEASE6_ADDRESS"], recovered["LEASE6_STATE"]) == (declined.addresses[0], "declined")
    rec.wait_for_each("lease6_expire", "LEASE6_ADDRESS", kept_leases | set(declined.addresses), timeout=15)


# --- cleanup -------------------------------------------------------------------

def test_lab_cleans_up_after_an_exception(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with Lab(workdir=tmp_path) as lab:
            kea4 = lab.start_kea(lab.config4())
            lab.dhclient().lease4()  # leaves a dhclient daemon in the client namespace
            names = (lab.net.server.name, lab.net.client.name)
            raise RuntimeError("boom")
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not any(name in listed for name in names)
    assert kea4.proc.poll() is not None
    assert subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True).returncode == 1
