"""A scapy-built DHCPv6 client (and relay agent) in the client namespace.

Messages are plain UDP from veth-c's link-local address to ff02::1:2 port
547: as a client from port 546, as a relay from port 547 (Kea answers a
RELAY-FORW to its source address on port 547). The client's identity is a
MAC address, sent as a DUID-LL, which Kea also turns into the hardware
address (HWADDR_SOURCE 2 = DUID).
"""

import random
import socket
from dataclasses import dataclass, field

from scapy.config import conf
from scapy.layers import dhcp6 as d6

from .netns import CLIENT_IFACE
from .wait import datagrams, reply_timeout

ALL_SERVERS = "ff02::1:2"


@dataclass
class Ia:
    """One IA_NA or IA_PD of a reply. items: (address or prefix, prefix len,
    preferred, valid); prefix len is 128 for addresses."""
    kind: str  # "na" or "pd"
    iaid: int
    t1: int
    t2: int
    items: list
    status: tuple = None  # (code, message) of a status code inside the IA


@dataclass
class Reply6:
    """A server reply: type is "ADVERTISE" or "REPLY" (the inner message if relayed)."""
    type: str
    ias: list
    status: tuple  # top-level (code, message), or None
    server_id: object = field(repr=False)  # DHCP6OptServerId to echo back
    message: object = field(repr=False)  # the scapy DHCP6 message
    relay: object = field(default=None, repr=False)  # the DHCP6_RelayReply around it, if relayed

    @property
    def addresses(self):
        return [item[0] for ia in self.ias if ia.kind == "na" for item in ia.items]

    @property
    def prefixes(self):
        """Delegated prefixes as "prefix/len"."""
        return [f"{item[0]}/{item[1]}" for ia in self.ias if ia.kind == "pd" for item in ia.items]


def duid_ll(mac):
    """The DUID-LL (type 3, Ethernet) that the lab's v6 client uses for `mac`."""
    return d6.DUID_LL(lladdr=mac)


def duid_text(mac):
    """That DUID as Kea and the hook write it: lower-case colon hex."""
    return ":".join(f"{b:02x}" for b in bytes(duid_ll(mac)))


def _status(options):
    for opt in options:
        if isinstance(opt, d6.DHCP6OptStatusCode):
            return opt.statuscode, opt.statusmsg.decode(errors="replace")
    return None


def _options(pkt):
    """The options of a DHCPv6 message (scapy chains them as payloads)."""
    opts, opt = [], pkt.payload
    while opt and not isinstance(opt, (conf.raw_layer, conf.padding_layer)):
        opts.append(opt)
        opt = opt.payload
    return opts


def _parse(message, relay=None):
    options = _options(message)
    ias = []
    for opt in options:
        if isinstance(opt, d6.DHCP6OptIA_NA):
            items = [(o.addr, 128, o.preflft, o.validlft) for o in opt.ianaopts if isinstance(o, d6.DHCP6OptIAAddress)]
            ias.append(Ia("na", opt.iaid, opt.T1, opt.T2, items, _status(opt.ianaopts)))
        elif isinstance(opt, d6.DHCP6OptIA_PD):
            items = [(o.prefix, o.plen, o.preflft, o.validlft) for o in opt.iapdopt if isinstance(o, d6.DHCP6OptIAPrefix)]
            ias.append(Ia("pd", opt.iaid, opt.T1, opt.T2, items, _status(opt.iapdopt)))
    server_id = next((o.copy() for o in options if isinstance(o, d6.DHCP6OptServerId)), None)
    if server_id is not None:
        server_id.remove_payload()  # scapy chains the following options to it
    return Reply6(type=d6.dhcp6types.get(message.msgtype, str(message.msgtype)), ias=ias,
                  status=_status(options), server_id=server_id, message=message, relay=relay)


def _dissect(data):
    cls = getattr(d6, d6.dhcp6_cls_by_type.get(data[0], ""), None)
    return cls(data) if cls else None


class LinkLocalSender:
    """UDP from veth-c's link-local address to ff02::1:2 port 547, in the
    client namespace of `net` (a Network): from port 546 as a client, from
    port 547 as a relay agent. Answers are awaited for `timeout` seconds
    (wait.reply_timeout(): by default a generous deadline)."""

    def __init__(self, net, timeout=None):
        self.net = net
        self.timeout = reply_timeout(timeout)
        self.link_local = net.client.link_local(CLIENT_IFACE)
        self.ifindex = net.client.ifindex(CLIENT_IFACE)
        self._socks = {}

    def close(self):
        """Close the sockets (port 546 is free again, e.g. for dhclient -6).
        New ones are opened if it is used again."""
        for sock in self._socks.values():
            sock.close()
        self._socks.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def replies(self, port, pkt):
        """Send `pkt` to ff02::1:2 from `port`; yield what comes back until timeout."""
        sock = self._socket(port)
        sock.sendto(bytes(pkt), (ALL_SERVERS, 547, 0, self.ifindex))
        for data in datagrams(sock, self.timeout):
            reply = _dissect(data)
            if reply is not None:
                yield reply

    def _socket(self, port):
        if port not in self._socks:
            with self.net.client.entered():
                sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, CLIENT_IFACE.encode())
                sock.bind((self.link_local, port, 0, self.ifindex))
            self._socks[port] = sock
        return self._socks[port]


class Dhcp6Client(LinkLocalSender):
    """Sends DHCPv6 messages from the client namespace of `net` (a Network).

    Every message takes the client's `mac` (sent as a DUID-LL) and, as
    keyword arguments, optionally `fqdn` (client FQDN option, e.g.
    "host.example.com.") and `xid`; new IAs take `iaid_na` / `iaid_pd`
    (default 1 and 2). Messages about a lease take the Reply6 that granted
    it and repeat its IAs. Methods return the Reply6, or None if nothing
    came within `timeout` seconds."""

    # --- the client's messages -------------------------------------------

    def solicit(self, mac, na=True, pd=False, rapid_commit=False, **ident):
        """SOLICIT for an IA_NA and/or an IA_PD; return the ADVERTISE
        (the REPLY with rapid_commit, if the server allows it)."""
        extra = [d6.DHCP6OptRapidCommit()] if rapid_commit else []
        return self._send(d6.DHCP6_Solicit, mac, self._fresh_ias(na, pd, **ident) + extra, **ident)

    def request(self, mac, advertise, **ident):
        """REQUEST the IAs of `advertise` from the server that sent it; return the REPLY."""
        return self._send(d6.DHCP6_Request, mac, self._held_ias(advertise) + [advertise.server_id], **ident)

    def renew(self, mac, lease, **ident):
        """RENEW the IAs of `lease` with the server that granted them."""
        return self._send(d6.DHCP6_Renew, mac, self._held_ias(lease) + [lease.server_id], **ident)

    def rebind(self, mac, lease, **ident):
        """REBIND the IAs of `lease` with any server (no server id)."""
        return self._send(d6.DHCP6_Rebind, mac, self._held_ias(lease), **ident)

    def release(self, mac, lease, **ident):
        """RELEASE the IAs of `lease`."""
        return self._send(d6.DHCP6_Release, mac, self._held_ias(lease) + [lease.server_id], **ident)

    def decline(self, mac, lease, **ident):
        """DECLINE the addresses (IA_NA only) of `lease`."""
        ias = [opt for opt in self._held_ias(lease) if isinstance(opt, d6.DHCP6OptIA_NA)]
        return self._send(d6.DHCP6_Decline, mac, ias + [lease.server_id], **ident)

    def sarr(self, mac, na=True, pd=False, **ident):
        """SOLICIT + REQUEST; return the REPLY (AssertionError if any step failed)."""
        adv = self.solicit(mac, na=na, pd=pd, **ident)
        assert adv and adv.type == "ADVERTISE", f"no ADVERTISE for {mac}: {adv}"
        reply = self.request(mac, adv, **ident)
        assert reply and reply.type == "REPLY" and (reply.status or (0,))[0] == 0, f"bad REPLY for {mac}: {reply}"
        return reply

    # --- as a relay agent ---------------------------------------------------

    def relayed_solicit(self, mac, link_address="2001:db8:1::2", peer_address=None, interface_id=None,
                        remote_id=None, enterprise=4491, subscriber_id=None, na=True, pd=False, **ident):
        """A SOLICIT wrapped in RELAY-FORW with interface-id (18), remote-id
        (37, with `enterprise`) and subscriber-id (38) when given. Kea picks
        the subnet from `link_address`. Return the inner ADVERTISE; the
        RELAY-REPL is in its .relay."""
        inner = self._message(d6.DHCP6_Solicit, mac, self._fresh_ias(na, pd, **ident), **ident)
        relay = d6.DHCP6_RelayForward(hopcount=0, linkaddr=link_address, peeraddr=peer_address or self.link_local)
        if interface_id is not None:
            relay /= d6.DHCP6OptIfaceId(ifaceid=_bytes(interface_id))
        if remote_id is not None:
            relay /= d6.DHCP6OptRemoteID(enterprisenum=enterprise, remoteid=_bytes(remote_id))
        if subscriber_id is not None:
            relay /= d6.DHCP6OptSubscriberID(subscriberid=_bytes(subscriber_id))
        relay /= d6.DHCP6OptRelayMsg(message=inner)
        for pkt in self.replies(547, relay):
            if isinstance(pkt, d6.DHCP6_RelayReply) and pkt.peeraddr == relay.peeraddr:
                msg = pkt[d6.DHCP6OptRelayMsg].message
                if msg.trid == inner.trid:
                    return _parse(msg, relay=pkt)
        return None

    # --- plumbing ---------------------------------------------------------

    @staticmethod
    def _fresh_ias(na, pd, iaid_na=1, iaid_pd=2, **_):
        ias = []
        if na:
            ias.append(d6.DHCP6OptIA_NA(iaid=iaid_na, T1=0, T2=0))
        if pd:
            ias.append(d6.DHCP6OptIA_PD(iaid=iaid_pd, T1=0, T2=0))
        return ias

    @staticmethod
    def _held_ias(lease):
        ias = []
        for ia in lease.ias:
            if ia.kind == "na":
                ias.append(d6.DHCP6OptIA_NA(iaid=ia.iaid, T1=0, T2=0, ianaopts=[
                    d6.DHCP6OptIAAddress(addr=a, preflft=0, validlft=0) for a, _, _, _ in ia.items]))
            else:
                ias.append(d6.DHCP6OptIA_PD(iaid=ia.iaid, T1=0, T2=0, iapdopt=[
                    d6.DHCP6OptIAPrefix(prefix=p, plen=plen, preflft=0, validlft=0) for p, plen, _, _ in ia.items]))
        return ias

    def _message(self, cls, mac, options, fqdn=None, xid=None, **_):
        msg = cls(trid=random.getrandbits(24) if xid is None else xid)
        msg /= d6.DHCP6OptClientId(duid=duid_ll(mac))
        msg /= d6.DHCP6OptElapsedTime(elapsedtime=0)
        for opt in options:
            msg /= opt
        if fqdn is not None:
            msg /= d6.DHCP6OptClientFQDN(flags="S", fqdn=fqdn)
        return msg

    def _send(self, cls, mac, options, **ident):
        msg = self._message(cls, mac, options, **ident)
        for pkt in self.replies(546, msg):
            if pkt.msgtype in (2, 7) and pkt.trid == msg.trid:  # ADVERTISE, REPLY
                return _parse(pkt)
        return None



def _bytes(value):
    return value.encode() if isinstance(value, str) else value
