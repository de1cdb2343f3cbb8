"""A DHCPv6 relay agent that goes all the way: SOLICIT and REQUEST, each in a RELAY-FORW with
interface-id (18), remote-id (37) and subscriber-id (38), as a broadband access node would send
them. The lab's Dhcp6Client relays a SOLICIT only; the legal-log example needs a lease granted
through a relay, so this completes the exchange. Its own socket on the client's link-local
address, port 547 (the lab's LinkLocalSender); close() (or the lab's teardown, which kills the
namespace) frees it."""

import random

from scapy.layers import dhcp6 as d6

from lab.dhcp6 import LinkLocalSender


class Relay6(LinkLocalSender):
    def _relay(self, inner, link_address, peer_address, interface_id, remote_id, enterprise,
               subscriber_id):
        relay = d6.DHCP6_RelayForward(hopcount=0, linkaddr=link_address, peeraddr=peer_address)
        relay /= d6.DHCP6OptIfaceId(ifaceid=interface_id)
        relay /= d6.DHCP6OptRemoteID(enterprisenum=enterprise, remoteid=remote_id)
        relay /= d6.DHCP6OptSubscriberID(subscriberid=subscriber_id)
        relay /= d6.DHCP6OptRelayMsg(message=inner)
        for reply in self.replies(547, relay):
            if isinstance(reply, d6.DHCP6_RelayReply) and d6.DHCP6OptRelayMsg in reply:
                message = reply[d6.DHCP6OptRelayMsg].message
                if message.trid == inner.trid:
                    return message
        raise AssertionError(f"no relayed answer to {inner.__class__.__name__}")

    def sarr(self, mac, *, interface_id, remote_id, subscriber_id, enterprise=4491,
             link_address="2001:db8:1::2", peer_address="fe80::1:2", fqdn=None):
        """Relayed SOLICIT then REQUEST for an IA_NA and an IA_PD; return the REPLY (scapy)."""
        ids = dict(link_address=link_address, peer_address=peer_address, interface_id=interface_id,
                   remote_id=remote_id, enterprise=enterprise, subscriber_id=subscriber_id)

        def message(cls, *options):
            msg = cls(trid=random.getrandbits(24))
            msg /= d6.DHCP6OptClientId(duid=d6.DUID_LL(lladdr=mac))
            msg /= d6.DHCP6OptElapsedTime(elapsedtime=0)
            for option in options:
                msg /= option
            if fqdn:
                msg /= d6.DHCP6OptClientFQDN(flags="S", fqdn=fqdn)
            return msg

        advertise = self._relay(message(d6.DHCP6_Solicit, d6.DHCP6OptIA_NA(iaid=1),
                                        d6.DHCP6OptIA_PD(iaid=2)), **ids)
        assert advertise.msgtype == 2, advertise.summary()
        server_id = advertise[d6.DHCP6OptServerId].copy()
        server_id.remove_payload()
        address = advertise[d6.DHCP6OptIAAddress].addr
        prefix = advertise[d6.DHCP6OptIAPrefix]
        request = message(
            d6.DHCP6_Request,
            d6.DHCP6OptIA_NA(iaid=1, ianaopts=[d6.DHCP6OptIAAddress(addr=address)]),
            d6.DHCP6OptIA_PD(iaid=2, iapdopt=[d6.DHCP6OptIAPrefix(prefix=prefix.prefix, plen=prefix.plen)]),
            server_id)
        reply = self._relay(request, **ids)
        assert reply.msgtype == 7, reply.summary()
        return reply
