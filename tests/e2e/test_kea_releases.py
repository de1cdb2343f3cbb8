"""What differs between the Kea releases users run (2.2, 2.6, 3.0), on the Kea installed here:
the hook points and arguments each release added, hook points a release lacks refused at load,
and each release's security model with ours on top (scripts only from Kea's scripts directory
from 3.0, never a script others could change). The lab runs this file on each release
(make test-e2e-roots); a test that needs a later release than the one here says so and skips."""

import os
import re
import shutil
import socket
import struct
import subprocess

import pytest
from lab import Lab, hook, one
from lab.dhcp6 import duid_ll
from lab.kea import DEBIAN_HOOKS_DIR, KeaError, SUBNET4, release
from lab.netns import CLIENT_IFACE
from lab.wait import WaitTimeout

import scapy.layers.dhcp6 as d6

MAC = "02:aa:bb:cc:dd:61"
ISC_SO = os.path.join(DEBIAN_HOOKS_DIR, "libdhcp_run_script.so")


def needs(*version):
    """Skips unless the installed Kea is at least `version`."""
    have = release()
    if have < version:
        pytest.skip(f"Kea {'.'.join(map(str, have))} has no such thing: it came with Kea "
                    f"{'.'.join(map(str, version))}")


def load_error(lab, config):
    with pytest.raises(KeaError) as refused:
        lab.start_kea(config)
    lines = [line for line in refused.value.log.splitlines() if "RUNSCRIPT_LOAD_FAILED" in line]
    assert len(lines) == 1, refused.value.log[-3000:]
    return lines[0]


# --- hook points and arguments ---------------------------------------------------------------

def test_lease4_offer_and_the_subnet_at_pkt4_send(lab, hook_so):
    needs(2, 6)
    rec = lab.recorder()
    lab.start_kea(lab.config4(hooks=[hook(hook_so, script=rec.script, wait=True,
                                          hooks=["lease4_offer", "pkt4_send", "leases4_committed"])]))
    ack = lab.dhcp4().dora(MAC)
    assert ack.type == "DHCPACK"
    rec.wait_for("leases4_committed")
    offer = one(rec.calls("lease4_offer"))
    assert offer.env["KEA_QUERY4_TYPE"] == "DHCPDISCOVER"
    assert offer.env["KEA_QUERY4_HWADDR"] == MAC
    assert offer.env["KEA_LEASE4_ADDRESS"] == ack.yiaddr
    assert offer.env["KEA_OFFER_LIFETIME"] == "0"  # Kea holds no address for an offer by default
    sends = rec.calls("pkt4_send")
    assert [c.env["KEA_RESPONSE4_TYPE"] for c in sends] == ["DHCPOFFER", "DHCPACK"]
    assert {c.env["KEA_SUBNET4"] for c in sends} == {SUBNET4}
    committed = one(rec.calls("leases4_committed"))
    if release() >= (3, 0):
        # 3.0 passes the response at leases4_committed and lease4_offer.
        assert committed.env["KEA_RESPONSE4_TYPE"] == "DHCPACK"
        assert committed.env["KEA_RESPONSE4_YIADDR"] == ack.yiaddr
        assert offer.env["KEA_RESPONSE4_TYPE"] == "DHCPOFFER"
    else:
        assert not any(k.startswith("KEA_RESPONSE4_") for k in committed.env)


def test_lease4_server_decline_when_a_ping_is_answered(lab, hook_so):
    """Kea 3.0's ping check (in Debian from 3.0 on) pings an address before offering it; when
    something answers, Kea declines the address itself: lease4_server_decline."""
    needs(3, 0)
    ping_check = os.path.join(DEBIAN_HOOKS_DIR, "libdhcp_ping_check.so")
    if not os.path.exists(ping_check):
        pytest.skip(f"{ping_check} is not installed")
    taken = "192.0.2.10"  # the pool's first address, taken by a host that never asked
    lab.net.client.run(["ip", "addr", "add", f"{taken}/24", "dev", CLIENT_IFACE])
    rec = lab.recorder()
    lab.start_kea(lab.config4(hooks=[
        hook(ping_check, **{"enable-ping-check": True, "min-ping-requests": 1, "reply-timeout": 500}),
        hook(hook_so, script=rec.script, wait=True, hooks=["lease4_server_decline"]),
    ]))
    lab.dhcp4(timeout=1).discover(MAC)  # no offer comes: the address answered
    call = one(rec.wait_for("lease4_server_decline"))
    assert call.env["KEA_LEASE4_ADDRESS"] == taken
    assert call.env["KEA_QUERY4_TYPE"] == "DHCPDISCOVER"
    assert call.env["KEA_QUERY4_HWADDR"] == MAC
    # The next DISCOVER gets another address.
    assert lab.dhcp4().dora(MAC).yiaddr != taken


def addr_reg_inform(lab, address, mac):
    """Sends an ADDR-REG-INFORM (RFC 9686) for `address`, from `address`: the client says it
    configured that address itself and asks the server to record it."""
    lab.net.client.run(["ip", "-6", "addr", "add", f"{address}/64", "dev", CLIENT_IFACE, "nodad"])
    message = struct.pack("!I", (36 << 24) | 0x6101)  # ADDR-REG-INFORM, transaction id
    message += bytes(d6.DHCP6OptClientId(duid=duid_ll(mac)))
    message += bytes(d6.DHCP6OptElapsedTime(elapsedtime=0))
    message += bytes(d6.DHCP6OptIAAddress(addr=address, preflft=3000, validlft=4000))
    with lab.net.client.entered():
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, CLIENT_IFACE.encode())
        sock.bind((address, 546))
        sock.sendto(message, ("ff02::1:2", 547, 0, lab.net.client.ifindex(CLIENT_IFACE)))
    finally:
        sock.close()


def test_addr6_register_in_both_variable_sets(lab, hook_so):
    needs(3, 0)
    ours, isc = lab.recorder("ours"), lab.recorder("isc")
    kea = lab.start_kea(lab.config6(hooks=[hook(hook_so, scripts=[
        {"script": ours.script, "wait": True, "hooks": ["addr6_register"]},
        {"script": isc.script, "wait": True, "variables": "isc", "hooks": ["addr6_register"]},
    ])]))
    address = "2001:db8:1::42"
    addr_reg_inform(lab, address, MAC)
    try:
        call = one(ours.wait_for("addr6_register"))
    except WaitTimeout:
        seen = [line for line in kea.log().splitlines() if "PACKET" in line or "RUNSCRIPT" in line]
        raise AssertionError("no addr6_register; Kea logged:\n" + "\n".join(seen[-20:])) from None
    assert call.env["KEA_QUERY6_TYPE"] == "ADDR_REG_INFORM"
    assert call.env["KEA_LEASE6_ADDRESS"] == address
    assert call.env["KEA_LEASE6_VALID_LIFETIME"] == "4000"
    assert call.env["KEA_RESPONSE6_TYPE"] == "ADDR_REG_REPLY"
    # ISC's names: the query, the address, the lease to be stored; no old one yet.
    env = one(isc.wait_for("addr6_register")).env
    assert env["ADDRESS6"] == address
    assert env["NEW_LEASE6_ADDRESS"] == address
    assert env["QUERY6_TYPE"] == "ADDR_REG_INFORM"
    assert not any(k.startswith("OLD_LEASE6_") for k in env)


def test_the_library_listed_twice_is_a_load_error(lab, hook_so):
    script = lab.script("ok.sh", "exit 0")
    line = load_error(lab, lab.config4(hooks=[hook(hook_so, script=script), hook(hook_so, script=script)]))
    assert "listed twice in hooks-libraries" in line, line


def test_a_hook_point_this_kea_lacks_is_a_load_error(lab, hook_so):
    script = lab.script("ok.sh", "exit 0")
    if release() < (2, 6):
        line = load_error(lab, lab.config4(hooks=[hook(hook_so, script=script, hooks=["lease4_offer"])]))
        assert "parameter 'hooks': lease4_offer came with Kea 2.6" in line, line
    elif release() < (3, 0):
        line = load_error(lab, lab.config6(hooks=[hook(hook_so, script=script, hooks=["addr6_register"])]))
        assert "parameter 'hooks': addr6_register came with Kea 3.0" in line, line
    else:
        pytest.skip("Kea 3.0 has every hook point the library knows")


def relayed_rapid_solicit(lab, mac):
    """A SOLICIT with rapid commit through a relay that adds interface-id, remote-id and
    subscriber-id: leases6_committed then sees a relayed query."""
    client = lab.dhcp6()
    inner = client._message(d6.DHCP6_Solicit, mac, client._fresh_ias(True, False) + [d6.DHCP6OptRapidCommit()])
    relay = d6.DHCP6_RelayForward(hopcount=0, linkaddr="2001:db8:1::2", peeraddr=client.link_local)
    relay /= d6.DHCP6OptIfaceId(ifaceid=b"port-7")
    relay /= d6.DHCP6OptRemoteID(enterprisenum=4491, remoteid=b"\x02\xaa\xbb")
    relay /= d6.DHCP6OptSubscriberID(subscriberid=b"sub-42")
    relay /= d6.DHCP6OptRelayMsg(message=inner)
    for pkt in client.replies(547, relay):
        if isinstance(pkt, d6.DHCP6_RelayReply):
            return pkt
    return None


def isc_variables_of_a_relayed_commit(lab, entry):
    rec = lab.recorder()
    config = lab.config6(hooks=[entry(rec.script)])
    config["Dhcp6"]["subnet6"][0]["rapid-commit"] = True
    lab.start_kea(config)
    assert relayed_rapid_solicit(lab, MAC) is not None
    env = one(rec.wait_for("leases6_committed")).env
    env.pop("PATH", None)  # ours sets it, ISC's sets nothing
    return env


def test_isc_mode_equals_isc_library_for_a_relayed_query(lab, hook_so):
    """Kea 3.0's library adds QUERY6_OPTION_18/37/38 from the relay nearest the client; earlier
    ones do not: whatever this release's does, ours does, value for value."""
    ours = isc_variables_of_a_relayed_commit(
        lab, lambda script: hook(hook_so, script=script, variables="isc", wait=True))
    with Lab() as isc_lab:
        theirs = isc_variables_of_a_relayed_commit(
            isc_lab, lambda script: hook(ISC_SO, name=script, sync=False))
    relay_options = {k: v for k, v in theirs.items() if re.fullmatch(r"QUERY6_OPTION_\d+", k)}
    if release() >= (3, 0):
        assert set(relay_options) == {"QUERY6_OPTION_18", "QUERY6_OPTION_37", "QUERY6_OPTION_38"}
    else:
        assert relay_options == {}
    assert sorted(ours) == sorted(theirs)
    for name in relay_options:
        assert ours[name] == theirs[name], name
    # Values that do not depend on the run are equal too.
    for name in ("QUERY6_TYPE", "QUERY6_CLIENT_ID", "LEASES6_SIZE", "DELETED_LEASES6_SIZE"):
        assert ours[name] == theirs[name], name


# --- security ---------------------------------------------------------------------------------

def test_a_script_others_can_change_is_refused(lab, hook_so):
    script = lab.script("shared.sh", "exit 0")
    os.chmod(script, 0o775)
    line = load_error(lab, lab.config4(hooks=[hook(hook_so, script=script)]))
    assert f"parameter 'script': script {script} is writable by its group" in line, line
    os.chmod(script, 0o755)
    lab.start_kea(lab.config4(hooks=[hook(hook_so, script=script)]))


def test_from_kea_3_scripts_only_from_its_scripts_directory(lab, hook_so, tmp_path_factory):
    needs(3, 0)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    script = os.path.join(str(elsewhere), "hook.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(script, 0o755)
    line = load_error(lab, lab.config4(hooks=[hook(hook_so, script=script)]))
    assert f"{script} is not in Kea's scripts directory {lab.scripts_dir}" in line, line
    assert "KEA_HOOK_SCRIPTS_PATH" in line
    # A bare name is a script in that directory, as with ISC's own hooks.
    rec = lab.recorder("bare")
    lab.start_kea(lab.config4(hooks=[hook(hook_so, script=os.path.basename(rec.script), wait=True,
                                          hooks=["lease4_select"])]))
    lab.dhcp4().dora(MAC)
    assert rec.wait_for("lease4_select")


def test_the_apparmor_abstraction_parses_in_debians_kea_profiles(tmp_path):
    """packaging/apparmor/kea-hook-runscript, included as the FAQ says, in the profiles Debian
    ships with this Kea: apparmor_parser accepts them (parsing needs no AppArmor kernel)."""
    parser = shutil.which("apparmor_parser")
    if not parser:
        pytest.skip("apparmor_parser is not installed (Debian package apparmor)")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    (tmp_path / "abstractions").mkdir()
    shutil.copy(os.path.join(repo, "packaging", "apparmor", "kea-hook-runscript"), tmp_path / "abstractions")
    for server in ("kea-dhcp4", "kea-dhcp6"):
        profile = f"/etc/apparmor.d/usr.sbin.{server}"
        if not os.path.exists(profile):
            pytest.skip(f"{profile} is not installed")
        with open(profile) as f:
            text = f.read()
        closing = text.rindex("}")
        text = text[:closing] + "  include <abstractions/kea-hook-runscript>\n" + text[closing:]
        (tmp_path / server).write_text(text)
        for what in (text, text[:closing] + "  this is not a rule\n" + text[closing:]):
            (tmp_path / server).write_text(what)
            result = subprocess.run([parser, "-Q", "-K", "-I", str(tmp_path), "-I", "/etc/apparmor.d",
                                     str(tmp_path / server)], capture_output=True, text=True)
            if what is text:
                assert result.returncode == 0, result.stderr
            else:  # the check can fail
                assert result.returncode != 0
