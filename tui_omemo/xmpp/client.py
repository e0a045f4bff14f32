"""`XmppClient`: the small async face of slixmpp that the service uses.

It connects (TLS required; plaintext only on a loopback address and only when the caller says
so explicitly), uses stream management (XEP-0198) when the server offers it, enables carbons,
publishes and fetches device lists and bundles for both OMEMO versions (through the
`tui_omemo_xep_0384` plugin), sends encrypted messages and hands out
incoming ones as `IncomingMessage` values through an async iterator.

Incoming stanzas pass these gates before anyone sees them: errors and MAM results are not live
messages; a carbon is unwrapped only when its wrapper comes from our own bare JID (otherwise it
is dropped and counted in `rejected_carbons`); a malformed `<encrypted>` is dropped, logged and
counted in `malformed_stanzas`; messages with neither `<encrypted>` nor `<body>` (chat states,
PEP events) are not queued.

Presence subscriptions are never granted automatically: `add_contact` approves (or pre-approves)
the contact it adds; any other request is left for the user to decide.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

import tui_omemo.xmpp.xep_0384  # registers the plugin with slixmpp
from tui_omemo.model import Namespace, bare_jid
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry, EncryptedElement, WireBundle
from tui_omemo.xmpp.errors import (
    ArchiveQueryFailed,
    AuthenticationFailed,
    ConnectionFailed,
    InsecureConnectionRefused,
    MalformedStanza,
    NotConnected,
    TransportError,
)
from tui_omemo.xmpp.mam import (
    ArchivedMessage,
    ArchivePage,
    ForgedArchiveResult,
    build_query,
    new_query_id,
    read_fin,
    read_result,
)
from tui_omemo.xmpp.messages import (
    CLIENT,
    SID,
    ForgedCarbon,
    IncomingMessage,
    build_encrypted_message,
    is_mam_result,
    new_message_id,
    read_message,
    unwrap_carbon,
)
from tui_omemo.xmpp.muc import (
    OMEMO_ROOM_CONFIG,
    STATUS_CREATED,
    Occupant,
    build_join,
    build_leave,
    build_member_grant,
    build_room_config,
    read_occupant,
)
from tui_omemo.xmpp.xep_0384 import XEP_0384, DeviceListUpdate

log = logging.getLogger(__name__)

ROSTER = "jabber:iq:roster"
REQUEST_TIMEOUT = 30
_PLUGINS = (
    "xep_0030",
    "xep_0004",
    "xep_0060",
    "xep_0115",
    "xep_0163",
    "xep_0280",
    "xep_0199",
    "xep_0198",
)
_UNENCRYPTED_MECHANISMS = (
    "unencrypted_plain",
    "unencrypted_digest",
    "unencrypted_cram",
    "unencrypted_scram",
)


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One roster item: bare JID, the name we gave it, and the subscription state
    (`none`, `to`, `from`, `both`)."""

    bare_jid: str
    name: str | None
    subscription: str


def is_loopback(host: str | None) -> bool:
    """True for `localhost` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class XmppClient:
    """One XMPP account connection.

    Args:
        jid: the account JID (bare or full; a resource is kept).
        password: the account password (never logged).
        host: the address to connect to; None to resolve the JID's domain (SRV).
        port: the c2s port.
        allow_plaintext_loopback: allow an unencrypted stream, which is only accepted when
            `host` is a loopback address (tests and the demo run Prosody on 127.0.0.1).

    Raises:
        InsecureConnectionRefused: when plaintext is asked for on a non-loopback address.
    """

    def __init__(
        self,
        jid: str,
        password: str,
        *,
        host: str | None = None,
        port: int = 5222,
        allow_plaintext_loopback: bool = False,
    ) -> None:
        if allow_plaintext_loopback and not is_loopback(host):
            raise InsecureConnectionRefused(
                f"plaintext XMPP is only allowed on a loopback address, not {host!r}; "
                "use TLS for any other server"
            )
        self._jid = jid
        self._password = password
        self._host = host
        self._port = port
        self._plaintext = allow_plaintext_loopback
        self._xmpp: slixmpp.ClientXMPP | None = None
        self._incoming: asyncio.Queue[IncomingMessage] = asyncio.Queue()
        self._device_list_listeners: list[Callable[[DeviceListUpdate], None]] = []
        self._subscription_listeners: list[Callable[[str], None]] = []
        self._queries: dict[str, tuple[str, list[ArchivedMessage]]] = {}
        self._joins: dict[str, asyncio.Future[Occupant]] = {}
        self._occupants: dict[str, dict[str, Occupant]] = {}
        self.rejected_carbons = 0
        self.rejected_archive_results = 0
        self.malformed_stanzas = 0

    # --- connection ---------------------------------------------------------------------------

    @property
    def bare_jid(self) -> str:
        """Our bare JID."""
        return bare_jid(self._jid)

    @property
    def full_jid(self) -> str:
        """The full JID the server bound (or the configured JID before connecting)."""
        if self._xmpp is None:
            return self._jid
        return str(self._xmpp.boundjid.full)

    @property
    def connected(self) -> bool:
        """True while a session is established."""
        return self._xmpp is not None and self._xmpp.is_connected()

    async def connect(self, within: float = 30) -> None:
        """Connect, authenticate, bind, send presence (with `+notify` caps), enable carbons.

        Raises:
            InsecureConnectionRefused: TLS is required but the server offered none.
            AuthenticationFailed: the server refused the credentials.
            ConnectionFailed: no session within `within` seconds.
        """
        xmpp = self._make_stream()
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[None] = loop.create_future()

        def settle(error: Exception | None) -> None:
            if outcome.done():
                return
            if error is None:
                outcome.set_result(None)
            else:
                outcome.set_exception(error)

        xmpp.add_event_handler("session_start", lambda _: settle(None))
        xmpp.add_event_handler("failed_all_auth", lambda _: settle(self._auth_error(xmpp)))
        xmpp.add_event_handler(
            "disconnected", lambda _: settle(ConnectionFailed("the server closed the stream"))
        )
        # slixmpp tries each connection method once, then schedules another round after a
        # delay: the start of that delay means every method failed.
        xmpp.add_event_handler(
            "reconnect_delay",
            lambda _: settle(ConnectionFailed(f"cannot reach {self._host or 'the server'}")),
        )
        self._xmpp = xmpp
        xmpp.connect(self._host, self._port)
        try:
            await asyncio.wait_for(outcome, within)
        except TimeoutError as error:
            await self._abort()
            raise ConnectionFailed(
                f"no XMPP session with {self._host or 'server'} in time"
            ) from error
        except Exception:
            await self._abort()
            raise
        xmpp.send_presence()
        try:
            await xmpp.plugin["xep_0280"].enable(timeout=within)
        except (IqError, IqTimeout):
            log.warning("the server did not enable carbons; other devices' sends are not copied")

    def _make_stream(self) -> slixmpp.ClientXMPP:
        xmpp = slixmpp.ClientXMPP(self._jid, self._password)
        if self._plaintext:
            xmpp.enable_direct_tls = False
            xmpp.enable_starttls = False
            xmpp.enable_plaintext = True
        # Presence subscriptions are never granted automatically: only add_contact approves
        # (or pre-approves) a contact; other requests wait for the user.
        xmpp.auto_authorize = None
        xmpp.auto_subscribe = False
        for name in _PLUGINS:
            xmpp.register_plugin(name)
        xmpp.register_plugin(XEP_0384.name, module=tui_omemo.xmpp.xep_0384)
        mechanisms = xmpp.plugin["feature_mechanisms"]
        for option in _UNENCRYPTED_MECHANISMS:
            mechanisms.config[option] = self._plaintext and option == "unencrypted_scram"
        xmpp.register_handler(
            Callback("tui-omemo messages", MatchXPath(f"{{{CLIENT}}}message"), self._on_message)
        )
        xmpp.register_handler(
            Callback("tui-omemo presence", MatchXPath(f"{{{CLIENT}}}presence"), self._on_presence)
        )
        xmpp.add_event_handler("omemo_device_list", self._on_device_list)
        xmpp.add_event_handler("presence_subscribe", self._on_subscribe)
        return xmpp

    def _auth_error(self, xmpp: slixmpp.ClientXMPP) -> Exception:
        if not self._plaintext and "starttls" not in xmpp.features:
            return InsecureConnectionRefused(
                "the server offered no TLS; refusing to log in over plaintext"
            )
        return AuthenticationFailed(f"the server refused the login for {self.bare_jid}")

    async def _abort(self) -> None:
        xmpp, self._xmpp = self._xmpp, None
        if xmpp is not None:
            xmpp.cancel_connection_attempt()
            if xmpp.is_connected():
                await xmpp.disconnect(wait=2)
            else:
                xmpp.abort()

    async def disconnect(self) -> None:
        """Close the stream (waiting briefly for the server to acknowledge)."""
        await self._abort()

    def _stream(self) -> slixmpp.ClientXMPP:
        if self._xmpp is None:
            raise NotConnected("not connected")
        return self._xmpp

    def _omemo(self) -> XEP_0384:
        plugins: Any = self._stream().plugin
        return cast(XEP_0384, plugins[XEP_0384.name])

    # --- OMEMO directory (PEP) -------------------------------------------------------------

    async def fetch_device_list(self, jid: str, namespace: Namespace) -> DeviceList:
        """`jid`'s device list for `namespace` (empty when none). See XEP_0384."""
        return await self._omemo().fetch_device_list(bare_jid(jid), namespace)

    async def publish_device_list(
        self, namespace: Namespace, own: DeviceListEntry, *, drop: tuple[int, ...] = ()
    ) -> DeviceList:
        """Put our device on our own list, merged with the server's; returns the new list."""
        return await self._omemo().publish_device_list(namespace, own, drop=drop)

    async def publish_bundle(self, device_id: int, bundle: WireBundle) -> None:
        """Publish our bundle for `device_id` (access model open)."""
        await self._omemo().publish_bundle(device_id, bundle)

    async def fetch_bundle(self, jid: str, namespace: Namespace, device_id: int) -> WireBundle:
        """`jid`'s bundle for `device_id`. Raises BundleNotFound when there is none."""
        return await self._omemo().fetch_bundle(bare_jid(jid), namespace, device_id)

    def add_device_list_listener(self, listener: Callable[[DeviceListUpdate], None]) -> None:
        """Call `listener` for every device-list notification (ours and contacts')."""
        self._device_list_listeners.append(listener)

    def _on_device_list(self, update: DeviceListUpdate) -> None:
        for listener in self._device_list_listeners:
            listener(update)

    # --- messages ----------------------------------------------------------------------------

    def send_encrypted(
        self,
        encrypted: EncryptedElement,
        to: str,
        *,
        message_type: str = "chat",
        message_id: str | None = None,
        body_hint: str | None = None,
    ) -> str:
        """Send `encrypted` to `to`; returns the message id (also the origin-id).

        Raises:
            NotConnected: without a session.
        """
        xmpp = self._stream()
        element = build_encrypted_message(
            encrypted, to, message_type=message_type, message_id=message_id, body_hint=body_hint
        )
        slixmpp.Message(xmpp, xml=element).send()  # type: ignore[no-untyped-call]
        return str(element.get("id"))

    def send_plaintext(self, to: str, body: str, *, message_type: str = "chat") -> str:
        """Send an unencrypted message (only for chats the user chose not to encrypt); returns
        the message id, also sent as origin-id.

        Raises:
            NotConnected: without a session.
        """
        xmpp = self._stream()
        message_id = new_message_id()
        element = ET.Element(f"{{{CLIENT}}}message", to=to, type=message_type, id=message_id)
        ET.SubElement(element, f"{{{CLIENT}}}body").text = body
        ET.SubElement(element, f"{{{SID}}}origin-id", id=message_id)
        slixmpp.Message(xmpp, xml=element).send()  # type: ignore[no-untyped-call]
        return message_id

    async def query_archive(
        self,
        *,
        with_jid: str | None = None,
        start: datetime | None = None,
        after: str | None = None,
        max_results: int = 100,
        archive: str | None = None,
        last_page: bool = False,
        within: float = 60,
    ) -> ArchivePage:
        """One page of a MAM archive (ours, or a room's when `archive` is given).

        Only results carrying this query's random queryid and coming from the queried archive
        are collected; others are dropped and counted in `rejected_archive_results`.

        Raises:
            ArchiveQueryFailed: on an error reply or a timeout.
            NotConnected: without a session.
        """
        xmpp = self._stream()
        query_id = new_query_id()
        archive_jid = bare_jid(archive) if archive else self.bare_jid
        collected: list[ArchivedMessage] = []
        self._queries[query_id] = (archive_jid, collected)
        iq = xmpp.make_iq_set(ito=archive_jid if archive else None)
        iq.xml.append(
            build_query(
                query_id,
                with_jid=with_jid,
                start=start,
                after=after,
                max_results=max_results,
                last_page=last_page,
            )
        )
        try:
            result = await iq.send(timeout=within)  # type: ignore[no-untyped-call]
        except (IqError, IqTimeout) as error:
            raise ArchiveQueryFailed(f"archive query on {archive_jid} failed") from error
        finally:
            del self._queries[query_id]
        complete, last = read_fin(result.xml)
        if last is None and collected:
            last = collected[-1].archive_id
        return ArchivePage(tuple(collected), complete, last)

    async def last_archive_id(self, archive: str | None = None) -> str | None:
        """The id of the newest message in our archive (or a room's), None when it is empty.
        A catch-up after this id fetches only what arrives later."""
        page = await self.query_archive(max_results=1, archive=archive, last_page=True)
        return page.messages[-1].archive_id if page.messages else page.last

    # --- roster ------------------------------------------------------------------------------

    async def roster(self) -> list[RosterEntry]:
        """Our roster as the server has it.

        Raises:
            TransportError: on an error reply or a timeout.
        """
        iq = self._stream().make_iq_get(queryxmlns=ROSTER)
        try:
            result = await iq.send(timeout=REQUEST_TIMEOUT)  # type: ignore[no-untyped-call]
        except (IqError, IqTimeout) as error:
            raise TransportError("fetching the roster failed") from error
        entries = []
        for item in result.xml.iter(f"{{{ROSTER}}}item"):
            jid = item.get("jid")
            if jid:
                entries.append(
                    RosterEntry(bare_jid(jid), item.get("name"), item.get("subscription", "none"))
                )
        return entries

    async def add_contact(self, jid: str, name: str | None = None) -> None:
        """Add `jid` to the roster, allow it to see our presence (approval, or pre-approval
        when it has not asked yet) and ask to see its presence.

        Raises:
            TransportError: when the roster update fails.
        """
        xmpp = self._stream()
        contact = bare_jid(jid)
        iq = xmpp.make_iq_set()
        query = ET.SubElement(iq.xml, f"{{{ROSTER}}}query")
        item = ET.SubElement(query, f"{{{ROSTER}}}item", jid=contact)
        if name:
            item.set("name", name)
        try:
            await iq.send(timeout=REQUEST_TIMEOUT)  # type: ignore[no-untyped-call]
        except (IqError, IqTimeout) as error:
            raise TransportError(f"adding {contact} to the roster failed") from error
        xmpp.send_presence(pto=contact, ptype="subscribed")
        xmpp.send_presence(pto=contact, ptype="subscribe")

    # --- group chats -------------------------------------------------------------------------

    async def join_room(
        self, room: str, nick: str, *, configure_new: bool = True, within: float = 20
    ) -> Occupant:
        """Join `room` as `nick` and return our own occupant entry.

        A room we just created (status 201) is configured for OMEMO (members-only,
        non-anonymous) when `configure_new` is set, which also unlocks it.

        Raises:
            TransportError: when the room refuses us or does not answer in time.
        """
        xmpp = self._stream()
        room = bare_jid(room)
        joined: asyncio.Future[Occupant] = asyncio.get_running_loop().create_future()
        self._joins[room] = joined
        self._occupants.setdefault(room, {})
        slixmpp.Presence(xmpp, xml=build_join(room, nick)).send()
        try:
            own = await asyncio.wait_for(joined, within)
        except TimeoutError as error:
            raise TransportError(f"no answer from {room} in time") from error
        finally:
            self._joins.pop(room, None)
        if STATUS_CREATED in own.status_codes and configure_new:
            await self.configure_room(room, OMEMO_ROOM_CONFIG)
        return own

    def leave_room(self, room: str, nick: str) -> None:
        """Leave `room`; its occupant list is forgotten."""
        self._occupants.pop(bare_jid(room), None)
        presence = build_leave(room, nick)
        slixmpp.Presence(self._stream(), xml=presence).send()

    def occupants(self, room: str) -> dict[str, Occupant]:
        """The occupants of a joined room by nickname (a copy)."""
        return dict(self._occupants.get(bare_jid(room), {}))

    async def configure_room(self, room: str, fields: dict[str, str]) -> None:
        """Submit room configuration fields (we must be the owner).

        Raises:
            TransportError: when the room refuses.
        """
        await self._iq_set(bare_jid(room), build_room_config(fields), f"configuring {room}")

    async def add_room_member(self, room: str, member: str) -> None:
        """Make `member` a member of `room` (we must be an admin or owner).

        Raises:
            TransportError: when the room refuses.
        """
        await self._iq_set(bare_jid(room), build_member_grant(member), f"adding member to {room}")

    async def _iq_set(self, to: str, payload: ET.Element, what: str) -> None:
        iq = self._stream().make_iq_set(ito=to)
        iq.xml.append(payload)
        try:
            await iq.send(timeout=REQUEST_TIMEOUT)  # type: ignore[no-untyped-call]
        except (IqError, IqTimeout) as error:
            raise TransportError(f"{what} failed") from error

    def _on_presence(self, stanza: Any) -> None:
        xml = stanza.xml
        sender = bare_jid(xml.get("from", ""))
        pending = self._joins.get(sender)
        if xml.get("type") == "error" and pending is not None and not pending.done():
            pending.set_exception(TransportError(f"{sender} refused to let us join"))
            return
        occupant = read_occupant(xml)
        if occupant is None or occupant.room not in self._occupants:
            return
        if occupant.available:
            self._occupants[occupant.room][occupant.nick] = occupant
        else:
            self._occupants[occupant.room].pop(occupant.nick, None)
        if occupant.is_self and pending is not None and not pending.done():
            pending.set_result(occupant)

    def deny_contact(self, jid: str) -> None:
        """Refuse (or revoke) `jid`'s permission to see our presence."""
        self._stream().send_presence(pto=bare_jid(jid), ptype="unsubscribed")

    def add_subscription_request_listener(self, listener: Callable[[str], None]) -> None:
        """Call `listener(bare_jid)` when someone asks to see our presence. Nothing is granted
        automatically; answer with `add_contact` (approve) or `deny_contact`."""
        self._subscription_listeners.append(listener)

    def _on_subscribe(self, presence: Any) -> None:
        requester = bare_jid(str(presence["from"].bare))
        for listener in self._subscription_listeners:
            listener(requester)

    def _on_archive_result(self, xml: Any) -> None:
        result = xml.find("{urn:xmpp:mam:2}result")
        query_id = result.get("queryid", "") if result is not None else ""
        query = self._queries.get(query_id)
        try:
            if query is None:
                raise ForgedArchiveResult("MAM result for a query we did not open")
            archive_jid, collected = query
            collected.append(
                read_result(
                    xml, query_id=query_id, archive_jid=archive_jid, own_bare_jid=self.bare_jid
                )
            )
        except (ForgedArchiveResult, MalformedStanza) as error:
            self.rejected_archive_results += 1
            log.warning("dropping archive result: %s", error)

    async def messages(self) -> AsyncIterator[IncomingMessage]:
        """Incoming messages (live and carbons), in arrival order, forever."""
        while True:
            yield await self._incoming.get()

    async def next_message(self, within: float | None = None) -> IncomingMessage:
        """The next incoming message. Raises TimeoutError after `within` seconds."""
        return await asyncio.wait_for(self._incoming.get(), within)

    def _on_message(self, stanza: Any) -> None:
        xml = stanza.xml
        if xml.get("type") == "error":
            return
        if is_mam_result(xml):
            self._on_archive_result(xml)
            return
        try:
            carbon = unwrap_carbon(xml, self.bare_jid)
        except ForgedCarbon as error:
            self.rejected_carbons += 1
            log.warning("%s", error)
            return
        direction = None
        if carbon is not None:
            xml, direction = carbon
        try:
            incoming = read_message(xml, self.bare_jid)
        except MalformedStanza as error:
            self.malformed_stanzas += 1
            log.warning("dropping malformed message from %s: %s", xml.get("from"), error)
            return
        if incoming.encrypted is None and incoming.body is None:
            return
        self._incoming.put_nowait(dataclasses.replace(incoming, carbon=direction))
