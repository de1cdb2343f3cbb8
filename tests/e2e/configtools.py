"""Helpers for tests/e2e/test_config_*.py: small hook scripts, and packets
the lab's clients do not send (arbitrary DHCPv4 options, DHCPv6 options,
nested relays).

Needs tests/ on sys.path (conftest.py puts it there).
"""

import os
import random
import socket

from scapy.layers import dhcp6 as d6
from scapy.layers.dhcp import BOOTP, DHCP, DHCPTypes
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from lab.dhcp6 import LinkLocalSender, duid_ll
from lab.netns import CLIENT_IFACE, SERVER_IFACE
from lab.wait import datagrams, reply_timeout

_ETH_P_IP = 0x0800


def write_script(path, body):
    """An executable /bin/sh script at `path` running `body`; returns the path."""
    path = str(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body.rstrip("\n") + "\n")
    os.chmod(path, 0o755)
    return path


def processes_named(netns, name):
    """Pids of processes called `name` (comm) in `netns` (a lab Netns)."""
    found = []
    for pid in netns.pids():
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == name:
                    found.append(pid)
        except OSError:
            pass  # gone meanwhile
    return found


def fqdn_option(name, flags=0x05):
    """Option 81 payload: flags (S|E by default), RCODE1, RCODE2, then the
    name in DNS wire format (canonical, as the E flag says)."""
    wire = b""
    for label in name.rstrip(".").split("."):
        wire += bytes([len(label)]) + label.encode()
    if name.endswith("."):
        wire += b"\0"
    return bytes([flags, 0, 0]) + wire


class Raw4:
    """Broadcast DHCPv4 messages with any options, from the client namespace.

    options: scapy DHCP option tuples, by name or by code, e.g.
    [("param_req_list", [1, 3, 6]), (81, b"...")]. Answers are awaited for
    `timeout` seconds (lab.wait.reply_timeout())."""

    def __init__(self, net, timeout=None):
        self.timeout = reply_timeout(timeout)
        self.server_mac = net.server.mac(SERVER_IFACE)
        with net.client.entered():
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_IP))
            self.sock.bind((CLIENT_IFACE, _ETH_P_IP))

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, mac, msg_type, options=(), expect_reply=True):
        """Send one message; return (reply type e.g. "DHCPOFFER", BOOTP layer)
        or None if nothing came within the timeout."""
        xid = random.getrandbits(32)
        bootp = BOOTP(op=1, htype=1, hlen=6, xid=xid, chaddr=bytes.fromhex(mac.replace(":", "")) + bytes(10))
        bootp /= DHCP(options=[("message-type", msg_type), *options, "end"])
        frame = (Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255")
                 / UDP(sport=68, dport=67) / bootp)
        self.sock.send(bytes(frame))
        if not expect_reply:
            return None
        for data in datagrams(self.sock, self.timeout):
            reply = Ether(data).getlayer(BOOTP)
            if reply is not None and reply.op == 2 and reply.xid == xid and DHCP in reply:
                kind = next(o[1] for o in reply[DHCP].options if isinstance(o, tuple) and o[0] == "message-type")
                return "DHCP" + DHCPTypes.get(kind, "UNKNOWN").upper(), reply
        return None


class Raw6(LinkLocalSender):
    """DHCPv6 messages with any options, from veth-c's link-local address:
    as a client (port 546) or as a relay agent (port 547)."""

    def solicit(self, mac, options=(), iaid=1):
        """SOLICIT for an IA_NA with extra `options` (scapy DHCPv6 options);
        return the ADVERTISE (a scapy message) or None."""
        msg = self.message(d6.DHCP6_Solicit, mac, [d6.DHCP6OptIA_NA(iaid=iaid, T1=0, T2=0), *options])
        return self.exchange(546, msg, lambda p: p.msgtype == 2 and p.trid == msg.trid)

    @staticmethod
    def message(cls, mac, options=()):
        msg = cls(trid=random.getrandbits(24))
        msg /= d6.DHCP6OptClientId(duid=duid_ll(mac))
        msg /= d6.DHCP6OptElapsedTime(elapsedtime=0)
        for opt in options:
            msg /= opt
        return msg

    def relay_forward(self, inner, hops):
        """Wrap `inner` in one RELAY-FORW per entry of `hops`, the first
        entry being the relay nearest the client. Each entry is a dict
        with link, peer and optionally interface_id, remote_id (enterprise
        number 4 bytes + id), subscriber_id (bytes)."""
        msg = inner
        for hopcount, hop in enumerate(hops):
            relay = d6.DHCP6_RelayForward(hopcount=hopcount, linkaddr=hop["link"], peeraddr=hop["peer"])
            if "interface_id" in hop:
                relay /= d6.DHCP6OptIfaceId(ifaceid=hop["interface_id"])
            if "remote_id" in hop:
                enterprise, remote_id = hop["remote_id"]
                relay /= d6.DHCP6OptRemoteID(enterprisenum=enterprise, remoteid=remote_id)
            if "subscriber_id" in hop:
                relay /= d6.DHCP6OptSubscriberID(subscriberid=hop["subscriber_id"])
            relay /= d6.DHCP6OptRelayMsg(message=msg)
            msg = relay
        return msg

    def send_relayed(self, inner, hops):
        """Send `inner` through the relay chain `hops`; return the RELAY-REPL or None."""
        outer = self.relay_forward(inner, hops)
        return self.exchange(547, outer, lambda p: isinstance(p, d6.DHCP6_RelayReply))

    def exchange(self, port, pkt, match):
        """Send `pkt` from `port`; return the first message back that `match`es, or None."""
        return next((reply for reply in self.replies(port, pkt) if match(reply)), None)
