"""`XmppTransport`: the service's `Transport` port (`service/ports.py`) over `XmppClient`.

Only a mapping: every slixmpp detail (PEP with publish-options, carbons, MAM queries and their
queryid checks, reconnects) lives in the client; this class turns the client's values into the
port's (`Received` → `Inbound`, `Link` → connection handler calls, `RosterEntry` →
`RosterItem`, `BundleNotFound` → `BundleUnavailable`). The composition root
(`commands/runtime.py`) builds it, and `rooms.RoomClient` (the `RoomTransport` port) beside it
on the same client, and hands both to the service; `xmpp/` imports only the port module of the
service, the service never imports `xmpp/`.

Every incoming `<message>` becomes one `Inbound`, with carbons and MAM results unwrapped and
their wrapper (and the wrapper's `from`) kept for the service's checks (DESIGN.md §3.6): what the
client refused (a forged carbon, an unsolicited or forged archive result, a malformed
`<encrypted>`) arrives as an `Inbound` the service rejects with a security event or archives as a
failure row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime

from tui_omemo.model import AckKind, Acknowledgement, Arrival, Namespace, ReplyRef, bare_jid
from tui_omemo.protocol.elements import DeviceList, WireBundle
from tui_omemo.protocol.errors import BundleUnavailable
from tui_omemo.service.ports import (
    LINK_LOST,
    LINK_OFFLINE,
    LINK_ONLINE,
    LINK_RESUMED,
    ChatStateArrival,
    ChatStateHandler,
    ConnectionHandler,
    DeviceListHandler,
    Envelope,
    Inbound,
    InboundHandler,
    MamPage,
    Outbound,
    Presence,
)
from tui_omemo.store import RosterItem
from tui_omemo.xmpp.client import Link, RosterEntry, XmppClient
from tui_omemo.xmpp.errors import MalformedStanza, TransportError
from tui_omemo.xmpp.mam import ArchivedMessage
from tui_omemo.xmpp.receipts import new_online_mark
from tui_omemo.xmpp.received import Received, Rejection
from tui_omemo.xmpp.sent_check import archived_origin_ids
from tui_omemo.xmpp.xep_0384 import DeviceListUpdate
from tui_omemo.xmpp.xep_0420 import envelope as sce

_LINKS = {
    Link.ONLINE: (True, LINK_ONLINE),
    Link.RESUMED: (True, LINK_RESUMED),
    Link.LOST: (False, LINK_LOST),
    Link.CLOSED: (False, LINK_OFFLINE),
}


def to_inbound(received: Received) -> Inbound:
    """The service's view of one received message."""
    malformed = received.detail if received.rejection is Rejection.MALFORMED else None
    inbound = Inbound(
        arrival=received.route,
        sender=received.sender,
        recipient=received.recipient,
        message_type=received.message_type,
        message_id=received.message_id,
        malformed=malformed,
        wrapper_from=received.wrapper_from,
        mam_query_id=received.query_id,
        solicited=received.solicited,
    )
    message = received.message
    if message is None:
        return inbound
    stamp = message.timestamp
    return dataclasses.replace(
        inbound,
        origin_id=message.origin_id,
        stanza_id=message.stanza_id,
        body=message.body,
        encrypted=message.encrypted,
        also=message.also,
        timestamp_ms=None if stamp is None else int(stamp.timestamp() * 1000),
        replaces=message.replaces,
        reply=message.reply,
        receipt=message.receipt,
        markable=message.markable,
    )


def archived_inbound(archived: ArchivedMessage, room: str, own: str) -> Inbound:
    """A room archive result as the inbox keeps it (`own`: the recipient when none is given)."""
    message = archived.message
    stamp = message.timestamp
    return Inbound(
        arrival=Arrival.MAM,
        sender=message.sender,
        recipient=message.recipient or own,
        message_type=message.message_type,
        message_id=message.message_id,
        origin_id=message.origin_id,
        stanza_id=archived.archive_id,
        body=message.body,
        encrypted=message.encrypted,
        timestamp_ms=None if stamp is None else int(stamp.timestamp() * 1000),
        wrapper_from=room,
        solicited=True,
        replaces=message.replaces,
        reply=message.reply,
    )


def build_envelope(
    body: str, to: str, sender: str, replaces: str | None = None, reply: ReplyRef | None = None
) -> bytes:
    """An SCE envelope (xmpp/xep_0420) with `rpad`, `time`, `to` and `from` (and the
    `<replace>` of a correction in its content)."""
    return sce.build_envelope(body, sender=sender, to=to, replaces=replaces, reply=reply)


def parse_envelope(data: bytes) -> Envelope:
    """Read an SCE envelope.

    Raises:
        ValueError: not an SCE envelope.
    """
    try:
        parsed = sce.parse_envelope(data)
    except MalformedStanza as error:
        raise ValueError(str(error)) from error
    return Envelope(parsed.body, parsed.to, parsed.sender, parsed.replaces, parsed.reply)


class XmppTransport:
    """`Transport` over a connected `XmppClient`.

    Args:
        client: the client; this adapter becomes its stanza sink and connection listener.
    """

    def __init__(self, client: XmppClient) -> None:
        self._client = client
        self._inbound: InboundHandler | None = None
        self._connection: ConnectionHandler | None = None
        self._device_lists: DeviceListHandler | None = None
        self._online_mark = new_online_mark()
        client.set_stanza_sink(self._on_received)
        client.add_connection_listener(self._on_link)
        client.add_device_list_listener(self._on_device_list)

    @property
    def own_bare_jid(self) -> str:
        """Our bare JID."""
        return self._client.bare_jid

    def set_handlers(self, inbound: InboundHandler, connection: ConnectionHandler) -> None:
        """Where incoming messages and connection changes go."""
        self._inbound = inbound
        self._connection = connection

    def set_device_list_handler(self, handler: DeviceListHandler) -> None:
        """Where PEP notifications of device lists go (ours and our contacts')."""
        self._device_lists = handler

    def set_acknowledgement_handler(self, handler: Callable[[Acknowledgement], None]) -> None:
        """Where incoming receipts and displayed markers go (issue 17)."""
        self._client.set_acknowledgement_sink(handler)

    def send_acknowledgement(self, to: str, kind: AckKind, message_id: str) -> None:
        """Send a receipt or displayed marker, unencrypted (it carries no content); its
        stanza id starts with this session's mark (`sent_since_online`)."""
        self._client.send_acknowledgement(to, kind, message_id, id_prefix=self._online_mark)

    def sent_since_online(self, sender: str, message_id: str | None) -> bool:
        """An archived acknowledgement of ours, sent since the last `go_online` (its id
        carries the mark drawn then)."""
        return (
            message_id is not None
            and message_id.startswith(self._online_mark)
            and bare_jid(sender) == self._client.bare_jid
        )

    def _on_received(self, received: Received) -> None:
        if self._inbound is not None:
            self._inbound(to_inbound(received))

    def _on_link(self, link: Link) -> None:
        if self._connection is not None:
            self._connection(*_LINKS[link])

    def _on_device_list(self, update: DeviceListUpdate) -> None:
        if self._device_lists is not None:
            self._device_lists(update.bare_jid, update.device_list)

    # --- presence and roster ----------------------------------------------------------

    async def go_online(self) -> None:
        """Send our presence (the server then delivers stored offline messages); from now
        on our acknowledgements carry a new mark (`sent_since_online`)."""
        self._online_mark = new_online_mark()
        self._client.send_presence()

    def presence(self, jid: str) -> Presence:
        """A contact's availability from the presences received so far."""
        shows = set(self._client.presence_shows(jid))
        if not shows:
            return Presence.OFFLINE
        if shows & {"", "chat"}:
            return Presence.ONLINE
        if "dnd" in shows:
            return Presence.BUSY
        return Presence.AWAY if "away" in shows else Presence.XA

    def announce(self, show: str, status: str) -> None:
        """Our own availability and status message, as contacts see it (issue 17)."""
        self._client.send_presence(show, status)

    def status_text(self, jid: str) -> str:
        """A contact's status message (its most available resource's)."""
        return self._client.presence_status(jid)

    def answer_subscription(self, jid: str, allow: bool) -> None:
        """Allow or refuse `jid`'s request to see our presence."""
        (self._client.approve_contact if allow else self._client.deny_contact)(jid)

    def set_subscription_request_handler(self, handler: Callable[[str], None]) -> None:
        """Called with the bare JID of someone asking to see our presence."""
        self._client.add_subscription_request_listener(handler)

    def set_presence_handler(self, handler: Callable[[str], None]) -> None:
        """Called with a contact's bare JID whenever its presence changes."""
        self._client.add_status_listener(handler)

    def send_chat_state(self, to: str, state: str, *, groupchat: bool) -> None:
        """Send a chat state on its own (XEP-0085, issue 17)."""
        self._client.send_chat_state(to, state, groupchat=groupchat)

    def set_chat_state_handler(self, handler: ChatStateHandler) -> None:
        """Called with every chat state that arrives (never stored)."""
        self._client.add_chat_state_listener(
            lambda notice: handler(
                ChatStateArrival(notice.sender, notice.message_type, notice.state)
            )
        )

    async def roster(self) -> Sequence[RosterItem]:
        """The server roster."""
        return [
            RosterItem(entry.bare_jid, entry.name or None, _subscription(entry), entry.groups)
            for entry in await self._client.roster()
        ]

    async def add_contact(self, bare_jid: str) -> None:
        """Add to the roster, approve its subscription and ask for one."""
        await self._client.add_contact(bare_jid)

    async def remove_contact(self, bare_jid: str) -> None:
        """Remove from the roster (the server cancels both subscriptions)."""
        await self._client.remove_contact(bare_jid)

    async def rename_contact(self, bare_jid: str, name: str, groups: tuple[str, ...]) -> None:
        """Set the roster name (empty: none), keeping the groups."""
        await self._client.rename_contact(bare_jid, name, groups)

    def set_roster_handler(self, handler: Callable[[], None]) -> None:
        """Called when the server pushes a roster change."""
        self._client.add_roster_listener(handler)

    # --- PEP --------------------------------------------------------------------------

    async def fetch_device_list(self, namespace: Namespace, bare_jid: str) -> DeviceList:
        """The current device list of `bare_jid` (empty when none)."""
        return await self._client.fetch_device_list(bare_jid, namespace)

    async def publish_device_list(self, device_list: DeviceList) -> None:
        """Publish our (already merged) device list."""
        await self._client.publish_exact_device_list(device_list)

    async def fetch_bundle(self, namespace: Namespace, bare_jid: str, device_id: int) -> WireBundle:
        """A device's bundle (raises `BundleUnavailable`)."""
        try:
            return await self._client.fetch_bundle(bare_jid, namespace, device_id)
        except TransportError as error:
            raise BundleUnavailable(f"bundle of {bare_jid}/{device_id}: {error}") from error

    async def publish_bundle(self, device_id: int, bundle: WireBundle) -> None:
        """Publish our bundle for its namespace."""
        await self._client.publish_bundle(device_id, bundle)

    # --- messages and MAM -------------------------------------------------------------

    async def send(self, message: Outbound) -> None:
        """Send one chat message (encrypted, or a chosen plaintext one)."""
        if message.encrypted is not None:
            self._client.send_encrypted(
                message.encrypted,
                message.to,
                message_id=message.message_id,
                body_hint=message.body,
                also=message.also,
                replaces=message.replaces,
                reply=message.reply,
                chat_state=message.chat_state,
            )
        else:
            self._client.send_plaintext(
                message.to,
                message.body or "",
                message_id=message.message_id,
                chat_state=message.chat_state,
            )

    async def mam_page(self, after: str | None, max_items: int) -> MamPage:
        """One page of our archive after `after`, through a query opened here."""
        page = await self._client.archive_page(after=after, max_results=max_items)
        return MamPage(
            [to_inbound(received) for received in page.messages], page.last, page.complete
        )

    async def archived_sent_ids(self, message_ids: Collection[str], since_ms: int) -> set[str]:
        """Which of our sent messages (by origin-id) our archive holds since `since_ms`.

        Raises:
            TransportError: the archive could not be asked.
        """
        since = datetime.fromtimestamp(since_ms / 1000, UTC)
        return await archived_origin_ids(self._client, message_ids, since)

    async def ping(self, within: float) -> None:
        """A round trip to the server within `within` seconds (raises TransportError)."""
        await self._client.ping(within)

    async def mam_last_id(self) -> str | None:
        """The newest stanza-id of our archive (its messages are dropped unprocessed)."""
        return await self._client.last_archive_id()

    # --- SCE --------------------------------------------------------------------------

    def build_envelope(
        self,
        body: str,
        to: str,
        sender: str,
        replaces: str | None = None,
        reply: ReplyRef | None = None,
    ) -> bytes:
        """An SCE envelope (xmpp/xep_0420) with `rpad`, `time`, `to` and `from`."""
        return build_envelope(body, to, sender, replaces, reply)

    def parse_envelope(self, data: bytes) -> Envelope:
        """Read an SCE envelope (raises ValueError when it is not one)."""
        return parse_envelope(data)


def _subscription(entry: RosterEntry) -> str:
    """The cached subscription word: `pending` while our request waits and we do not see
    the contact yet."""
    if entry.pending and entry.subscription in ("none", "from"):
        return "pending"
    return entry.subscription
