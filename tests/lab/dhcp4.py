"""A scapy-built DHCPv4 client (and relay agent) in the client namespace.

Direct messages go through a packet socket on veth-c, so any chaddr can be
used as the source MAC, exactly like a real client with that MAC, and the
replies Kea unicasts to that MAC are seen although it is not veth-c's own
(a veth delivers every frame; packet sockets get "other host" ones too).
Relayed messages are ordinary UDP from RELAY_V4:67 to the server, which
answers the relay on port 67. in_parallel() runs many clients at once.
"""

import random
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from scapy.layers.dhcp import BOOTP, DHCP, DHCPTypes
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from .netns import CLIENT_IFACE, RELAY_V4, SERVER_IFACE, SERVER_V4
from .wait import datagrams, reply_timeout

_ETH_P_IP = 0x0800
_BROADCAST_FLAG = 0x8000


@dataclass
class Reply4:
    """A server reply: type is "DHCPOFFER", "DHCPACK" or "DHCPNAK"."""
    type: str
    yiaddr: str
    server_id: str
    options: dict = field(repr=False)  # scapy option name -> value
    packet: object = field(repr=False)  # the scapy BOOTP layer


def _mac_bytes(mac):
    return bytes.fromhex(mac.replace(":", ""))


def option82(circuit_id=None, remote_id=None, subscriber_id=None):
    """Relay agent information payload with sub-options 1, 2 and 6."""
    payload = b""
    for code, value in ((1, circuit_id), (2, remote_id), (6, subscriber_id)):
        if value is not None:
            value = value.encode() if isinstance(value, str) else value
            payload += bytes([code, len(value)]) + value
    return payload


def _bootp_in_frame(data, xid):
    """The BOOTP layer of an Ethernet frame if it carries a reply with
    transaction id `xid`, else None. The xid is compared in the raw bytes
    first: a packet socket sees every frame on the link, scapy parses only ours."""
    bootp = 14 + (data[14] & 0x0F) * 4 + 8 if len(data) > 14 else len(data)  # Ethernet, IP, UDP
    if data[bootp:bootp + 1] != b"\x02" or data[bootp + 4:bootp + 8] != xid.to_bytes(4, "big"):
        return None
    return Ether(data).getlayer(BOOTP)


def _reply(bootp):
    options = {}
    for opt in bootp[DHCP].options:
        if isinstance(opt, tuple) and len(opt) >= 2:
            options[opt[0]] = opt[1]
    return Reply4(type="DHCP" + DHCPTypes.get(options.get("message-type"), "UNKNOWN").upper(),
                  yiaddr=bootp.yiaddr, server_id=options.get("server_id", ""),
                  options=options, packet=bootp)


class Dhcp4Client:
    """Sends DHCPv4 messages from the client namespace of `net` (a Network).

    Every message takes the client's `mac` (chaddr and source MAC) and,
    as keyword arguments, optionally `hostname` (option 12), `vendor_class`
    (60), `client_id` (61, bytes or str), `xid`, `broadcast` (ask for
    broadcast replies). Methods that expect an answer return a Reply4, or
    None if none came within `timeout` seconds (wait.reply_timeout(): by
    default a generous deadline; a test that expects silence gives a short one)."""

    def __init__(self, net, timeout=None):
        self.net = net
        self.timeout = reply_timeout(timeout)
        self.server_mac = net.server.mac(SERVER_IFACE)
        with net.client.entered():
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_IP))
            self._sock.bind((CLIENT_IFACE, _ETH_P_IP))
        self._relay_sock = None

    def close(self):
        self._sock.close()
        if self._relay_sock:
            self._relay_sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- the client's messages -------------------------------------------

    def discover(self, mac, **ident):
        """Broadcast DHCPDISCOVER; return the OFFER."""
        return self._broadcast("discover", mac, **ident)

    def request(self, mac, address, server_id, **ident):
        """SELECTING DHCPREQUEST (broadcast, option 50 + 54); return ACK/NAK."""
        return self._broadcast("request", mac, [("requested_addr", address), ("server_id", server_id)], **ident)

    def renew(self, mac, address, **ident):
        """RENEWING DHCPREQUEST: unicast from `address` (ciaddr) to the server."""
        return self._unicast("request", mac, address, **ident)

    def decline(self, mac, address, server_id, **ident):
        """Broadcast DHCPDECLINE for `address`. Kea does not answer."""
        self._broadcast("decline", mac, [("requested_addr", address), ("server_id", server_id)],
                        expect_reply=False, **ident)

    def release(self, mac, address, server_id, **ident):
        """Unicast DHCPRELEASE of `address` (ciaddr). Kea does not answer."""
        self._unicast("release", mac, address, [("server_id", server_id)], expect_reply=False, **ident)

    def dora(self, mac, **ident):
        """DISCOVER + REQUEST; return the ACK (AssertionError if none came)."""
        offer = self.discover(mac, **ident)
        assert offer and offer.type == "DHCPOFFER", f"no OFFER for {mac}: {offer}"
        ack = self.request(mac, offer.yiaddr, offer.server_id, **ident)
        assert ack and ack.type == "DHCPACK", f"no ACK for {mac} {offer.yiaddr}: {ack}"
        return ack

    # --- as a relay agent at RELAY_V4 (giaddr), which is added to veth-c ----

    def relayed_discover(self, mac, circuit_id=None, remote_id=None, subscriber_id=None, **ident):
        """DHCPDISCOVER relayed through RELAY_V4 with option 82; return the OFFER."""
        return self._relayed("discover", mac, [], option82(circuit_id, remote_id, subscriber_id), **ident)

    def relayed_request(self, mac, address, server_id, circuit_id=None, remote_id=None, subscriber_id=None,
                        **ident):
        """SELECTING DHCPREQUEST relayed through RELAY_V4 with option 82; return ACK/NAK."""
        return self._relayed("request", mac, [("requested_addr", address), ("server_id", server_id)],
                             option82(circuit_id, remote_id, subscriber_id), **ident)

    # --- plumbing ---------------------------------------------------------

    def _bootp(self, msg_type, mac, extra, ciaddr="0.0.0.0", giaddr="0.0.0.0", hops=0, *,
               hostname=None, vendor_class=None, client_id=None, xid=None, broadcast=False):
        options = [("message-type", msg_type)]
        for name, value in (("client_id", client_id), ("hostname", hostname), ("vendor_class_id", vendor_class)):
            if value is not None:
                options.append((name, value.encode() if isinstance(value, str) else value))
        options += extra
        bootp = BOOTP(op=1, htype=1, hlen=6, hops=hops, xid=random.getrandbits(32) if xid is None else xid,
                      flags=_BROADCAST_FLAG if broadcast else 0, ciaddr=ciaddr, giaddr=giaddr,
                      chaddr=_mac_bytes(mac) + bytes(10))
        return bootp / DHCP(options=options + ["end"])

    def _broadcast(self, msg_type, mac, extra=(), expect_reply=True, **ident):
        bootp = self._bootp(msg_type, mac, list(extra), **ident)
        frame = (Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255")
                 / UDP(sport=68, dport=67) / bootp)
        return self._send_frame(frame, bootp.xid, expect_reply)

    def _unicast(self, msg_type, mac, ciaddr, extra=(), expect_reply=True, **ident):
        bootp = self._bootp(msg_type, mac, list(extra), ciaddr=ciaddr, **ident)
        frame = Ether(src=mac, dst=self.server_mac) / IP(src=ciaddr, dst=SERVER_V4) / UDP(sport=68, dport=67) / bootp
        return self._send_frame(frame, bootp.xid, expect_reply)

    def _send_frame(self, frame, xid, expect_reply):
        self._sock.send(bytes(frame))
        if not expect_reply:
            return None
        return self._receive(self._sock, lambda data: _bootp_in_frame(data, xid), xid)

    def _relayed(self, msg_type, mac, extra, rai, **ident):
        if self._relay_sock is None:
            self.net.add_relay_address()
            with self.net.client.entered():
                self._relay_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._relay_sock.bind((RELAY_V4, 67))
        if rai:
            extra = extra + [("relay_agent_information", rai)]
        bootp = self._bootp(msg_type, mac, extra, giaddr=RELAY_V4, hops=1, **ident)
        self._relay_sock.sendto(bytes(bootp), (SERVER_V4, 67))
        return self._receive(self._relay_sock, BOOTP, bootp.xid)

    def _receive(self, sock, parse, xid):
        """The first server reply with transaction id `xid` read from `sock`
        (`parse` turns bytes into a BOOTP layer or None), or None at timeout."""
        for data in datagrams(sock, self.timeout):
            bootp = parse(data)
            if bootp is not None and bootp.op == 2 and bootp.xid == xid and DHCP in bootp:
                return _reply(bootp)
        return None


def in_parallel(net, macs, exchange, clients=8):
    """exchange(client, mac) for every MAC of `macs`, `clients` at a time:
    each of that many threads has a Dhcp4Client (so a socket) of its own
    and takes its share of the MACs in turn. Returns {mac: what exchange
    returned}, once every one has finished; the first exception raised in
    a thread is raised here. The load is a fixed amount of work, however
    long the machine takes to do it."""
    def share(macs_of_one):
        with Dhcp4Client(net) as client:
            return {mac: exchange(client, mac) for mac in macs_of_one}

    results = {}
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for done in pool.map(share, [macs[i::clients] for i in range(clients)]):
            results.update(done)
    return results
