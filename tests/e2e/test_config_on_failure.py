""""on-failure" end to end: a script that fails for one client makes Kea drop
that client's packet (pkt4_receive / pkt6_receive) or refuse its lease
(lease4_select), while every other client is served as usual."""

from configtools import Raw6
from lab.dhcp6 import duid_text
from lab import hook
from lab.wait import expect_silence

BLOCKED_MAC = "02:bb:00:00:00:01"
OTHER_MAC = "02:bb:00:00:00:02"


def test_pkt4_receive_drop_blocks_one_mac(lab, hook_so):
    rec = lab.recorder(tail=f'[ "$KEA_QUERY4_HWADDR" = "{BLOCKED_MAC}" ] && exit 1\nexit 0')
    kea4 = lab.start_kea(lab.config4(hooks=[hook(hook_so, scripts=[
        {"script": rec.script, "hooks": ["pkt4_receive"], "on-failure": "drop"}])]))
    client = lab.dhcp4()

    with expect_silence(client):
        assert client.discover(BLOCKED_MAC) is None
    offer = client.discover(OTHER_MAC)
    assert offer is not None and offer.type == "DHCPOFFER"
    ack = client.request(OTHER_MAC, offer.yiaddr, offer.server_id)
    assert (ack.type, ack.yiaddr) == ("DHCPACK", offer.yiaddr)
    with expect_silence(client):
        assert client.discover(BLOCKED_MAC) is None  # every time, not just once

    # The script ran for every packet; Kea was told to drop exactly the blocked ones.
    assert [c.env["KEA_QUERY4_HWADDR"] for c in rec.calls()] == [BLOCKED_MAC, OTHER_MAC, OTHER_MAC, BLOCKED_MAC]
    steps = kea4.log_lines("RUNSCRIPT_NEXT_STEP")
    assert len(steps) == 2, steps
    for line in steps:
        assert line.split(" ", 2)[2].startswith("INFO ")
        assert f"{rec.script} (pkt4_receive): failed; on-failure is \"drop\", so Kea is told to drop the packet" in line
    assert kea4.log_lines(rf"DHCP4_LEASE_ALLOC .*{OTHER_MAC}.*lease {ack.yiaddr} ")
    assert not kea4.log_lines(rf"DHCP4_LEASE_(ADVERT|ALLOC) .*{BLOCKED_MAC}")
    # Kea 2.2 logs a hook's DROP here as "SKIP", and does not count it in pkt4-receive-drop.
    dropped = kea4.log_lines("DHCP4_HOOK_PACKET_RCVD_SKIP")
    assert len(dropped) == 2 and all(BLOCKED_MAC in line for line in dropped), dropped


def test_pkt6_receive_drop_blocks_one_duid(lab, hook_so):
    blocked = duid_text(BLOCKED_MAC)
    rec = lab.recorder(tail=f'[ "$KEA_QUERY6_DUID" = "{blocked}" ] && exit 1\nexit 0')
    kea6 = lab.start_kea(lab.config6(hooks=[hook(hook_so, scripts=[
        {"script": rec.script, "hooks": ["pkt6_receive"], "on-failure": "drop"}])]))
    client = lab.dhcp6()

    with expect_silence(client):
        assert client.solicit(BLOCKED_MAC) is None
    reply = client.sarr(OTHER_MAC, na=True, pd=True)
    assert reply.addresses and reply.prefixes
    with expect_silence(client):
        assert client.solicit(BLOCKED_MAC, pd=True) is None

    assert [c.env["KEA_QUERY6_DUID"] for c in rec.calls()] == [blocked, duid_text(OTHER_MAC),
                                                                duid_text(OTHER_MAC), blocked]
    steps = kea6.log_lines("RUNSCRIPT_NEXT_STEP")
    assert len(steps) == 2, steps
    assert all(f"{rec.script} (pkt6_receive): failed; on-failure is \"drop\"" in line for line in steps)
    assert not kea6.log_lines(rf"DHCP6_(PD_)?LEASE_(ADVERT|ALLOC)\S* .*duid=\[{blocked}\]")
    assert kea6.log_lines(rf"DHCP6_LEASE_ALLOC .*duid=\[{duid_text(OTHER_MAC)}\]")
    dropped = kea6.log_lines("DHCP6_HOOK_PACKET_RCVD_SKIP")
    assert len(dropped) == 2 and all(blocked in line for line in dropped), dropped


def test_pkt6_receive_drop_also_works_for_crafted_packets(lab, hook_so):
    """The DUID test does not depend on the lab client: the same with a hand-built SOLICIT."""
    blocked = duid_text(BLOCKED_MAC)
    rec = lab.recorder(tail=f'[ "$KEA_QUERY6_DUID" = "{blocked}" ] && exit 1\nexit 0')
    lab.start_kea(lab.config6(hooks=[hook(hook_so, scripts=[
        {"script": rec.script, "hooks": ["pkt6_receive"], "on-failure": "drop"}])]))
    with Raw6(lab.net) as raw:
        with expect_silence(raw):
            assert raw.solicit(BLOCKED_MAC) is None
        assert raw.solicit(OTHER_MAC).msgtype == 2  # ADVERTISE


def test_lease4_select_skip_refuses_one_mac(lab, hook_so):
    """Kea 2.2, lease4_select skipped: a DISCOVER gets no OFFER at all
    (DHCP4_PACKET_NAK_0003, nothing sent); a REQUEST gets a DHCPNAK
    (DHCP4_PACKET_NAK_0004). Other clients get their leases."""
    rec = lab.recorder(tail=f'[ "$KEA_LEASE4_HWADDR" = "{BLOCKED_MAC}" ] && exit 1\nexit 0')
    kea4 = lab.start_kea(lab.config4(hooks=[hook(hook_so, scripts=[
        {"script": rec.script, "hooks": ["lease4_select"], "on-failure": "skip"}])]))
    client = lab.dhcp4()

    with expect_silence(client):
        assert client.discover(BLOCKED_MAC) is None
    ack = client.dora(OTHER_MAC)
    nak = client.request(BLOCKED_MAC, "192.0.2.50", ack.server_id)  # INIT-REBOOT style: ask directly
    assert nak is not None and (nak.type, nak.yiaddr) == ("DHCPNAK", "0.0.0.0")
    other = client.dora("02:bb:00:00:00:03")
    assert other.yiaddr != ack.yiaddr

    selects = [(c.env["KEA_LEASE4_HWADDR"], c.env["KEA_FAKE_ALLOCATION"]) for c in rec.calls()]
    assert selects == [(BLOCKED_MAC, "1"), (OTHER_MAC, "1"), (OTHER_MAC, "0"), (BLOCKED_MAC, "0"),
                       ("02:bb:00:00:00:03", "1"), ("02:bb:00:00:00:03", "0")]
    steps = kea4.log_lines("RUNSCRIPT_NEXT_STEP")
    assert len(steps) == 2 and all("(lease4_select): failed; on-failure is \"skip\", so Kea is told to skip "
                                   "this step" in line for line in steps), steps
    assert len(kea4.log_lines("DHCPSRV_HOOK_LEASE4_SELECT_SKIP")) == 2
    assigned = kea4.command("statistic-get", {"name": "subnet[1].assigned-addresses"})
    assert assigned["subnet[1].assigned-addresses"][0][0] == 2
    assert not kea4.log_lines(rf"DHCP4_LEASE_(ADVERT|ALLOC) .*{BLOCKED_MAC}")
