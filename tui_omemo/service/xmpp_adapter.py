"""`Transport` over slixmpp: PEP device lists and bundles, `<encrypted>`, carbons, MAM, SCE.

A thin adapter written inside `service/` while `xmpp/client.py` was still being built. The
XML itself comes from `xmpp/`: `translate.py` (`<encrypted>`, device lists, bundles),
`messages.py` (reading messages, unwrapping carbons, building encrypted messages), `mam.py`
(reading results) and `xep_0420` (SCE envelopes). What is left here is the slixmpp plumbing:
PEP requests with publish-options, the MAM query IQ, device-list notifications and the
login helper. It stays because `xmpp.client.XmppClient` drops forged carbons, unsolicited MAM
results and malformed stanzas with only a counter, while the service must raise a security
event (and archive a failure row) for each: here they come back as an `Inbound` whose wrapper
the service rejects.

Every incoming `<message>` becomes one `Inbound`, with carbons and MAM results unwrapped and
their wrapper (and the wrapper's `from`) kept for the service's checks (DESIGN.md §3.6).
"""

from __future__ import annotations

import asyncio
import binascii
import dataclasses
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from typing import Any

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import StanzaBase
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

from tui_omemo.model import Namespace, bare_jid
from tui_omemo.protocol.elements import DeviceList, WireBundle
from tui_omemo.protocol.errors import BundleUnavailable
from tui_omemo.service.api import Presence
from tui_omemo.service.transport import (
    ConnectionHandler,
    DeviceListHandler,
    Envelope,
    Inbound,
    InboundHandler,
    MamPage,
    Outbound,
    TransportError,
    Wrapper,
)
from tui_omemo.store import InboxSource, RosterItem
from tui_omemo.xmpp.errors import MalformedStanza
from tui_omemo.xmpp.mam import ForgedArchiveResult, read_result
from tui_omemo.xmpp.messages import (
    CarbonDirection,
    ForgedCarbon,
    IncomingMessage,
    build_encrypted_message,
    is_mam_result,
    read_message,
    unwrap_carbon,
)
from tui_omemo.xmpp.translate import (
    bundle_from_xml,
    bundle_to_xml,
    device_list_from_xml,
    device_list_to_xml,
)
from tui_omemo.xmpp.xep_0420 import envelope as sce

CLIENT = "jabber:client"
CARBONS = "urn:xmpp:carbons:2"
FORWARD = "urn:xmpp:forward:0"
MAM = "urn:xmpp:mam:2"
RSM = "http://jabber.org/protocol/rsm"
SID = "urn:xmpp:sid:0"
DELAY = "urn:xmpp:delay"
SCE = "urn:xmpp:sce:1"
PUBSUB = "http://jabber.org/protocol/pubsub"
PUBSUB_EVENT = "http://jabber.org/protocol/pubsub#event"
DATA = "jabber:x:data"
LEGACY = Namespace.LEGACY.value
V2 = Namespace.V2.value
TIMEOUT = 20

DEVICE_LIST_NODE = {Namespace.LEGACY: f"{LEGACY}.devicelist", Namespace.V2: f"{V2}:devices"}
V2_BUNDLES_NODE = f"{V2}:bundles"


def _inbound(
    incoming: IncomingMessage,
    source: InboxSource,
    wrapper: Wrapper,
    wrapper_from: str | None,
    query_id: str | None,
) -> Inbound:
    stamp = incoming.timestamp
    return Inbound(
        source=source, sender=incoming.sender, recipient=incoming.recipient,
        message_type=incoming.message_type, message_id=incoming.message_id,
        origin_id=incoming.origin_id, stanza_id=incoming.stanza_id, body=incoming.body,
        encrypted=incoming.encrypted,
        timestamp_ms=None if stamp is None else int(stamp.timestamp() * 1000),
        wrapper=wrapper, wrapper_from=wrapper_from, mam_query_id=query_id,
    )


def _malformed(  # noqa: PLR0917 (every part of the stanza's path)
    message: ET.Element,
    source: InboxSource,
    wrapper: Wrapper,
    wrapper_from: str | None,
    query_id: str | None,
    reason: str,
) -> Inbound:
    """A message whose `<encrypted>` did not parse: the service archives a failure row."""
    return Inbound(
        source=source, sender=message.get("from", ""), recipient=message.get("to", ""),
        message_type=message.get("type", "normal"), message_id=message.get("id"),
        malformed=f"malformed <encrypted>: {reason}"[:200], wrapper=wrapper,
        wrapper_from=wrapper_from, mam_query_id=query_id,
    )


def _bool(text: str | None) -> bool:
    return (text or "").strip().lower() in ("true", "1")


# --- the adapter ----------------------------------------------------------------------------


class SlixmppTransport:
    """`Transport` over a connected `slixmpp.ClientXMPP` (plugins 0030, 0060, 0004 loaded).

    Args:
        client: the client; this adapter registers its message handler on it.
    """

    def __init__(self, client: slixmpp.ClientXMPP) -> None:
        self._client = client
        self._inbound: InboundHandler | None = None
        self._connection: ConnectionHandler | None = None
        self._open_queries: dict[str, list[Inbound]] = {}
        self._publish_options_refused: set[str] = set()
        self._device_lists: DeviceListHandler | None = None
        # slixmpp's "message" event fires only for stanzas with a <body>; OMEMO 2 has none.
        client.register_handler(Callback("tui-omemo messages", StanzaPath("message"),
                                         self._on_message))
        client.add_event_handler("session_start", lambda _e: self._connected(True, "online"))
        client.add_event_handler("disconnected", lambda _e: self._connected(False, "offline"))

    def _plugin(self, name: str) -> Any:
        """A slixmpp plugin (their methods are untyped)."""
        plugins: Any = self._client.plugin
        return plugins[name]

    @property
    def client(self) -> slixmpp.ClientXMPP:
        """The underlying client (tests hook outgoing XML here)."""
        return self._client

    @property
    def own_bare_jid(self) -> str:
        """Our bare JID."""
        return bare_jid(str(self._client.boundjid.bare))

    def set_handlers(self, inbound: InboundHandler, connection: ConnectionHandler) -> None:
        """Where incoming messages and connection changes go."""
        self._inbound = inbound
        self._connection = connection

    def _connected(self, online: bool, detail: str) -> None:
        if self._connection is not None:
            self._connection(online, detail)

    # --- incoming ---------------------------------------------------------------------

    def set_device_list_handler(self, handler: DeviceListHandler) -> None:
        """Where PEP notifications of device lists go (ours and our contacts')."""
        self._device_lists = handler

    def _on_message(self, message: StanzaBase) -> None:
        if self._device_list_event(message.xml):
            return
        inbound = self.parse_stanza(message.xml)
        if inbound is None:
            return
        if inbound.wrapper is Wrapper.MAM and inbound.solicited:
            assert inbound.mam_query_id is not None
            self._open_queries[inbound.mam_query_id].append(inbound)
            return
        if self._inbound is not None:
            self._inbound(inbound)

    def _device_list_event(self, outer: ET.Element) -> bool:
        """Handle a PEP notification of a device list; True when the stanza was one."""
        items = outer.find(f"{{{PUBSUB_EVENT}}}event/{{{PUBSUB_EVENT}}}items")
        if items is None:
            return False
        for namespace, node in DEVICE_LIST_NODE.items():
            if items.get("node") != node:
                continue
            for item in items.findall(f"{{{PUBSUB_EVENT}}}item"):
                payload = next(iter(item), None)
                if payload is None or self._device_lists is None:
                    continue
                try:
                    device_list = device_list_from_xml(payload)
                except MalformedStanza:
                    continue
                if device_list.namespace is namespace:
                    sender = bare_jid(outer.get("from", self.own_bare_jid))
                    self._device_lists(sender, device_list)
        return True

    def parse_stanza(self, outer: ET.Element) -> Inbound | None:
        """Unwrap carbons and MAM results (through `xmpp/messages.py` and `xmpp/mam.py`).

        Forged wrappers are not dropped here: they come back as an `Inbound` whose wrapper
        the service rejects with a security event. None for error stanzas.
        """
        if outer.get("type") == "error":
            return None
        own = self.own_bare_jid
        if is_mam_result(outer):
            return self._mam_result(outer)
        try:
            carbon = unwrap_carbon(outer, own)
        except ForgedCarbon:
            return Inbound(source=InboxSource.CARBON, sender=outer.get("from", ""),
                           recipient=own, wrapper=Wrapper.CARBON_RECEIVED,
                           wrapper_from=outer.get("from", ""))
        if carbon is None:
            return self._read(outer, InboxSource.LIVE, Wrapper.NONE, None, None)
        inner, direction = carbon
        wrapper = (Wrapper.CARBON_SENT if direction is CarbonDirection.SENT
                   else Wrapper.CARBON_RECEIVED)
        return self._read(inner, InboxSource.CARBON, wrapper, outer.get("from", own), None)

    def _mam_result(self, outer: ET.Element) -> Inbound:
        own = self.own_bare_jid
        result = outer.find(f"{{{MAM}}}result")
        query_id = "" if result is None else result.get("queryid", "")
        wrapper_from = outer.get("from", own)
        # Not one of our own-archive queries: still read it (a room archive query of the
        # group-chat component collects it by queryid); the 1:1 service rejects it.
        solicited = query_id in self._open_queries
        archive = own if solicited else bare_jid(wrapper_from)
        try:
            archived = read_result(outer, query_id=query_id, archive_jid=archive,
                                   own_bare_jid=own)
        except ForgedArchiveResult:
            return Inbound(source=InboxSource.MAM, sender=wrapper_from, recipient=own,
                           wrapper=Wrapper.MAM, wrapper_from=wrapper_from,
                           mam_query_id=query_id,
                           solicited=solicited and bare_jid(wrapper_from) == own)
        except MalformedStanza as error:
            inner = outer.find(f"{{{MAM}}}result/{{{FORWARD}}}forwarded/{{{CLIENT}}}message")
            malformed = _malformed(inner if inner is not None else outer, InboxSource.MAM,
                                   Wrapper.MAM, wrapper_from, query_id, str(error))
            return dataclasses.replace(malformed, solicited=solicited)
        inbound = _inbound(archived.message, InboxSource.MAM, Wrapper.MAM, wrapper_from,
                           query_id)
        return dataclasses.replace(inbound, solicited=solicited)

    def _read(
        self,
        message: ET.Element,
        source: InboxSource,
        wrapper: Wrapper,
        wrapper_from: str | None,
        query_id: str | None,
    ) -> Inbound | None:
        try:
            incoming = read_message(message, self.own_bare_jid)
        except MalformedStanza as error:
            return _malformed(message, source, wrapper, wrapper_from, query_id, str(error))
        if incoming.encrypted is None and incoming.body is None:
            return None
        if source is InboxSource.LIVE and incoming.timestamp is not None:
            source = InboxSource.OFFLINE
        return _inbound(incoming, source, wrapper, wrapper_from, query_id)

    def presence(self, jid: str) -> Presence:
        """A contact's availability from the presences received so far."""
        roster: Any = self._client.client_roster
        resources: dict[str, Any] = roster.presence(jid) or {}
        if not resources:
            return Presence.OFFLINE
        shows = {str(info.get("show") or "") for info in resources.values()}
        if shows & {"", "chat"}:
            return Presence.ONLINE
        if "dnd" in shows:
            return Presence.BUSY
        return Presence.AWAY

    def set_presence_handler(self, handler: Callable[[str], None]) -> None:
        """Called with a contact's bare JID whenever its presence changes."""
        self._client.add_event_handler(
            "changed_status", lambda presence: handler(bare_jid(str(presence["from"]))))

    async def go_online(self) -> None:
        """Send our initial presence (the server then delivers stored offline messages)."""
        self._client.send_presence()

    # --- PEP --------------------------------------------------------------------------

    async def fetch_device_list(self, namespace: Namespace, bare_jid: str) -> DeviceList:
        """The current device list of `bare_jid` (empty when none)."""
        node = DEVICE_LIST_NODE[namespace]
        try:
            iq = await self._plugin("xep_0060").get_items(bare_jid, node, timeout=TIMEOUT)
        except IqError as error:
            # Prosody answers "forbidden" for an account that never published the node.
            if error.condition in ("item-not-found", "feature-not-implemented", "forbidden"):
                return DeviceList(namespace, ())
            raise TransportError(f"device list of {bare_jid}: {error.condition}") from error
        except IqTimeout as error:
            raise TransportError(f"device list of {bare_jid}: timeout") from error
        payload = None
        for item in iq["pubsub"]["items"]:
            if item["id"] == "current" or payload is None:
                payload = item.xml.find(f"{{{namespace.value}}}" +
                                        ("list" if namespace is Namespace.LEGACY else "devices"))
        if payload is None:
            return DeviceList(namespace, ())
        try:
            return device_list_from_xml(payload)
        except MalformedStanza as error:
            raise TransportError(f"device list of {bare_jid} unreadable: {error}") from error

    async def publish_device_list(self, device_list: DeviceList) -> None:
        """Publish our device list (open access)."""
        await self._publish(DEVICE_LIST_NODE[device_list.namespace], "current",
                            device_list_to_xml(device_list), max_items=False)

    async def fetch_bundle(self, namespace: Namespace, bare_jid: str, device_id: int) -> WireBundle:
        """A device's bundle (raises `BundleUnavailable`)."""
        if namespace is Namespace.LEGACY:
            node, item_id = f"{LEGACY}.bundles:{device_id}", None
        else:
            node, item_id = V2_BUNDLES_NODE, str(device_id)
        try:
            pubsub = self._plugin("xep_0060")
            if item_id is None:
                iq = await pubsub.get_items(bare_jid, node, max_items=1, timeout=TIMEOUT)
            else:
                iq = await pubsub.get_item(bare_jid, node, item_id, timeout=TIMEOUT)
            for item in iq["pubsub"]["items"]:
                payload = item.xml.find(f"{{{namespace.value}}}bundle")
                if payload is not None:
                    return bundle_from_xml(payload)
        except (IqError, IqTimeout) as error:
            raise BundleUnavailable(f"bundle of {bare_jid}/{device_id}: {error}") from error
        except (MalformedStanza, ValueError, binascii.Error) as error:
            raise BundleUnavailable(f"bundle of {bare_jid}/{device_id} unreadable") from error
        raise BundleUnavailable(f"no bundle for {bare_jid}/{device_id}")

    async def publish_bundle(self, device_id: int, bundle: WireBundle) -> None:
        """Publish our bundle for its namespace."""
        if bundle.namespace is Namespace.LEGACY:
            await self._publish(f"{LEGACY}.bundles:{device_id}", "current", bundle_to_xml(bundle),
                                max_items=False)
        else:
            await self._publish(V2_BUNDLES_NODE, str(device_id), bundle_to_xml(bundle),
                                max_items=True)

    async def _publish(self, node: str, item_id: str, payload: ET.Element, *,
                       max_items: bool) -> None:
        pubsub = self._plugin("xep_0060")
        options = None
        if node not in self._publish_options_refused:
            options = self._plugin("xep_0004").make_form(ftype="submit")
            options.add_field(var="FORM_TYPE", ftype="hidden",
                              value="http://jabber.org/protocol/pubsub#publish-options")
            options.add_field(var="pubsub#access_model", value="open")
            if max_items:
                options.add_field(var="pubsub#max_items", value="max")
        try:
            await pubsub.publish(None, node, id=item_id, payload=payload, options=options,
                                 timeout=TIMEOUT)
        except IqError as error:
            refused = error.condition in ("conflict", "not-acceptable") or \
                "precondition" in str(error.text or error.condition)
            if options is None or not refused:
                raise TransportError(f"publishing {node}: {error.condition}") from error
            self._publish_options_refused.add(node)
            await pubsub.publish(None, node, id=item_id, payload=payload, timeout=TIMEOUT)
        except IqTimeout as error:
            raise TransportError(f"publishing {node}: timeout") from error

    # --- sending ----------------------------------------------------------------------

    async def send(self, message: Outbound) -> None:
        """Send one chat message: `xmpp/messages.py` builds encrypted ones (EME, store hint,
        origin-id, the 0.3 body hint); a chosen plaintext one carries the body and origin-id."""
        if message.encrypted is not None:
            element = build_encrypted_message(message.encrypted, message.to,
                                              message_id=message.message_id,
                                              body_hint=message.body, also=message.also)
        else:
            element = ET.Element(f"{{{CLIENT}}}message", to=message.to, type="chat",
                                 id=message.message_id)
            ET.SubElement(element, f"{{{CLIENT}}}body").text = message.body or ""
            ET.SubElement(element, f"{{{SID}}}origin-id", id=message.message_id)
        make: Any = slixmpp.Message
        make(self._client, xml=element).send()

    # --- MAM --------------------------------------------------------------------------

    async def mam_page(self, after: str | None, max_items: int) -> MamPage:
        """One page of our archive after `after`, through a query opened here."""
        return await self._mam_query(max_items, after=after)

    async def mam_last_id(self) -> str | None:
        """The newest stanza-id of our archive (its messages are dropped unprocessed)."""
        return (await self._mam_query(1, latest=True)).last_id

    async def _mam_query(self, max_items: int, *, after: str | None = None,
                         latest: bool = False) -> MamPage:
        query_id = secrets.token_hex(8)
        iq: Any = self._client.make_iq_set()
        query = ET.SubElement(iq.xml, f"{{{MAM}}}query", queryid=query_id)
        rsm = ET.SubElement(query, f"{{{RSM}}}set")
        ET.SubElement(rsm, f"{{{RSM}}}max").text = str(max_items)
        if after is not None:
            ET.SubElement(rsm, f"{{{RSM}}}after").text = after
        if latest:
            ET.SubElement(rsm, f"{{{RSM}}}before")
        self._open_queries[query_id] = []
        try:
            result = await iq.send(timeout=60)
        except (IqError, IqTimeout) as error:
            raise TransportError(f"archive query failed: {error}") from error
        finally:
            await asyncio.sleep(0)
            messages = self._open_queries.pop(query_id, [])
        fin = result.xml.find(f"{{{MAM}}}fin")
        complete = fin is None or _bool(fin.get("complete"))
        last = None if fin is None else fin.find(f"{{{RSM}}}set/{{{RSM}}}last")
        return MamPage(messages, None if last is None else last.text, complete)

    # --- SCE --------------------------------------------------------------------------

    def build_envelope(self, body: str, to: str, sender: str) -> bytes:
        """An SCE envelope (xmpp/xep_0420) with `rpad`, `time`, `to` and `from`."""
        return sce.build_envelope(body, sender=sender, to=to)

    def parse_envelope(self, data: bytes) -> Envelope:
        """Read an SCE envelope.

        Raises:
            ValueError: not an SCE envelope.
        """
        try:
            parsed = sce.parse_envelope(data)
        except MalformedStanza as error:
            raise ValueError(str(error)) from error
        return Envelope(parsed.body, parsed.to, parsed.sender)

    # --- roster -----------------------------------------------------------------------

    async def roster(self) -> Sequence[RosterItem]:
        """The server roster (as last received)."""
        roster = self._client.client_roster
        return [
            RosterItem(bare_jid(str(jid)), roster[jid]["name"] or None,
                       roster[jid]["subscription"], tuple(roster[jid]["groups"]))
            for jid in roster
        ]

    async def add_contact(self, bare_jid: str) -> None:
        """Add to the roster and subscribe."""
        try:
            client: Any = self._client
            await client.update_roster(bare_jid, subscription="none", timeout=TIMEOUT)
        except (IqError, IqTimeout) as error:
            raise TransportError(f"adding {bare_jid} failed: {error}") from error
        self._client.send_presence_subscription(pto=bare_jid)


READ_SIZE = 16 * 1024


def _cap_reads(client: slixmpp.ClientXMPP) -> None:
    """Read at most 16 KiB per socket read (asyncio's default is 256 KiB).

    slixmpp parses a whole read and runs every stanza handler in one loop step; a server
    pushing a thousand offline messages or a big MAM page would otherwise hold the loop for
    tens of milliseconds (DESIGN.md §6).
    """
    transport: Any = getattr(client, "transport", None)
    if transport is not None and hasattr(transport, "max_size"):
        transport.max_size = READ_SIZE


async def connect_client(
    jid: str,
    password: str,
    host: str,
    port: int,
    *,
    allow_plaintext_loopback: bool = False,
    timeout: float = 20,  # noqa: ASYNC109 (passed on to slixmpp's own iq timeouts)
) -> slixmpp.ClientXMPP:
    """Log in a slixmpp client with the plugins the adapter needs, carbons enabled.

    No presence is sent: `SlixmppTransport.go_online` does that once the service listens, so
    the offline messages the server pushes after it are not lost.

    Plaintext (no TLS) is only allowed to 127.0.0.1/::1/localhost and only with the flag.

    Raises:
        TransportError: refused plaintext, failed authentication or no session in time.
    """
    loopback = host in ("127.0.0.1", "::1", "localhost")
    if allow_plaintext_loopback and not loopback:
        raise TransportError("plaintext connections are allowed only to loopback")
    client = slixmpp.ClientXMPP(jid, password)
    for plugin in ("xep_0030", "xep_0004", "xep_0060", "xep_0115", "xep_0163", "xep_0199",
                   "xep_0198", "xep_0280"):
        client.register_plugin(plugin)
    plugins: Any = client.plugin
    # after binding: caps are computed for the bound JID, else presence carries no `<c>`
    # and the server never sends us device-list notifications
    client.add_event_handler("session_bind", lambda _jid: plugins["xep_0163"].add_interest(
        list(DEVICE_LIST_NODE.values())))
    if allow_plaintext_loopback:
        client.enable_direct_tls = False
        client.enable_starttls = False
        client.enable_plaintext = True
        client.plugin["feature_mechanisms"].unencrypted_scram = True
    started: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_start(_event: object) -> None:
        if not started.done():
            started.set_result(None)

    def on_failure(_event: object) -> None:
        if not started.done():
            started.set_exception(TransportError("login failed"))

    client.add_event_handler("session_start", lambda _e: _cap_reads(client))
    client.add_event_handler("session_start", on_start)
    client.add_event_handler("failed_all_auth", on_failure)
    client.connect(host, port)
    try:
        await asyncio.wait_for(started, timeout)
    except TimeoutError as error:
        client.disconnect()
        raise TransportError(f"no XMPP session with {host}:{port} in time") from error
    await client.get_roster(timeout=timeout)
    await client.plugin["xep_0280"].enable(timeout=timeout)
    return client


def now_ms() -> int:
    """The current time in milliseconds since the epoch."""
    return int(time.time() * 1000)
