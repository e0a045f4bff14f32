"""The service's ports: what it needs from the network, as Protocols and their own values.

This is the one module where the service and `xmpp/` meet (DESIGN.md §2, issue #14): the service
imports port types only from here and never imports `tui_omemo.xmpp`; `xmpp/` implements the
ports directly (`xmpp.transport.XmppTransport`, `xmpp.rooms.RoomClient`) with these values
and raises these errors. The composition root (`commands/runtime.py`) builds the XMPP side and
hands it to the service's constructor.

* `Transport`: OMEMO device lists and bundles in PEP (it also serves as the engine's
  `Directory` port), sending a message, incoming messages as `Inbound` values, MAM pages of
  queries we opened, SCE envelopes, the roster, presence, the archive check of our own sent
  messages and the ping that confirms them.
* `RoomTransport`: what group chats need (`service/muc.py`): joins, occupants, affiliations,
  the room's features, groupchat sends, the room's archive, bookmarks.
* `TransportError` and the leaves the service catches (`NotConnected`, `MalformedStanza`);
  every other XMPP error (`xmpp/errors.py`) derives from `TransportError`.

`Inbound` is what the inbox keeps: a parsed stanza whose `<encrypted>` element is still
ciphertext. `to_bytes`/`from_bytes` give the inbox its row format (versioned JSON), so the
inbound pipeline never needs XML (DESIGN.md §2: XML lives only in the XMPP adapter).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from tui_omemo.model import Arrival, Namespace, ReplyRef
from tui_omemo.protocol.elements import DeviceList, EncryptedElement, WireBundle
from tui_omemo.service.api import Presence
from tui_omemo.service.element_rows import element_from_json, element_json
from tui_omemo.service.ports_chat_states import ChatStateArrival as ChatStateArrival  # noqa: PLC0414
from tui_omemo.service.ports_chat_states import ChatStateHandler as ChatStateHandler  # noqa: PLC0414
from tui_omemo.service.ports_chat_states import ChatStatePort
from tui_omemo.service.receipt_port import Acknowledging
from tui_omemo.service.replies import reply_from_json, reply_json
from tui_omemo.store import RosterItem

INBOUND_FORMAT = 1

__all__ = [
    "AFFILIATIONS_WITH_KEYS",
    "LINK_LOST",
    "LINK_OFFLINE",
    "LINK_ONLINE",
    "LINK_RESUMED",
    "OMEMO_ROOM_CONFIG",
    "Bookmark",
    "ConnectionHandler",
    "DeviceListHandler",
    "Envelope",
    "Inbound",
    "InboundHandler",
    "MalformedStanza",
    "MamPage",
    "NotConnected",
    "Occupant",
    "Outbound",
    "Presence",
    "RoomFeatures",
    "RoomListener",
    "RoomTransport",
    "Transport",
    "TransportError",
]


class TransportError(Exception):
    """Root of every error raised by the XMPP side (`tui_omemo.xmpp`, `xmpp/errors.py`)."""


class MalformedStanza(TransportError):
    """A peer sent XML we refuse to interpret: bad base64, missing or wrongly typed parts, or
    more than our size limits allow."""


class NotConnected(TransportError):
    """A request was made while the client has no session."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """One incoming message stanza, parsed, with any `<encrypted>` element still encrypted.

    Attributes:
        arrival: live, offline storage, carbon (which direction) or MAM result.
        sender: the author's full JID (the forwarded message's `from` for carbons and MAM).
        recipient: the `to` of the (inner) message.
        message_type: chat, normal, groupchat …
        message_id: the stanza's `id`.
        origin_id: XEP-0359 origin-id.
        stanza_id: XEP-0359 stanza-id set by our own server (by = our bare JID).
        body: the `<body>` text (a hint when `encrypted` is set; ignored then).
        encrypted: the `<encrypted>` element, when it parsed.
        also: the 0.3 `<encrypted>` of a stanza that carries both versions (the session
            picks the one holding a key for our device).
        malformed: why an `<encrypted>` element did not parse (then `encrypted` is None).
        timestamp_ms: XEP-0203 delay stamp, or None (then "now").
        wrapper_from: the wrapping stanza's `from` (must be our own bare JID).
        mam_query_id: the `queryid` of a MAM result.
        solicited: for MAM results: whether it answers a query we opened.
        replaces: a XEP-0308 `<replace id>` outside the encryption (read for 0.3 only).
    """

    arrival: Arrival
    sender: str
    recipient: str
    message_type: str = "chat"
    message_id: str | None = None
    origin_id: str | None = None
    stanza_id: str | None = None
    body: str | None = field(default=None, repr=False)
    encrypted: EncryptedElement | None = field(default=None, repr=False)
    malformed: str | None = None
    timestamp_ms: int | None = None
    wrapper_from: str | None = None
    mam_query_id: str | None = None
    solicited: bool = True
    also: EncryptedElement | None = field(default=None, repr=False)
    replaces: str | None = None
    reply: ReplyRef | None = None  # XEP-0461 (outside the encryption: believed for 0.3 only)
    receipt: bool = False  # asks for a delivery receipt (XEP-0184, issue 17)
    markable: bool = False  # may be acknowledged with a displayed marker (XEP-0333)

    def to_bytes(self) -> bytes:
        """The inbox row: versioned JSON, ciphertext base64-encoded."""
        # Field by field, not `asdict` (no deep copies of the ciphertext): the keys of before.
        data: dict[str, Any] = {
            "body": self.body,
            "encrypted": None if self.encrypted is None else element_json(self.encrypted),
            "format": INBOUND_FORMAT,
            "malformed": self.malformed,
            "mam_query_id": self.mam_query_id,
            "message_id": self.message_id,
            "message_type": self.message_type,
            "origin_id": self.origin_id,
            "recipient": self.recipient,
            "sender": self.sender,
            "solicited": self.solicited,
            "source": _ROW_SOURCE[self.arrival],
            "stanza_id": self.stanza_id,
            "timestamp_ms": self.timestamp_ms,
            "wrapper": _ROW_WRAPPER[self.arrival],
            "wrapper_from": self.wrapper_from,
        }
        if self.also is not None:
            data["also"] = element_json(self.also)
        data |= {} if self.replaces is None else {"replaces": self.replaces}
        data |= {} if self.reply is None else {"reply": reply_json(self.reply)}
        data.update({key: True for key in ("receipt", "markable") if getattr(self, key)})
        return json.dumps(data, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Inbound:
        """Read an inbox row written by `to_bytes`.

        Raises:
            ValueError: not a row of a known format.
        """
        data = json.loads(raw)
        if not isinstance(data, dict) or data.pop("format", None) != INBOUND_FORMAT:
            raise ValueError("unknown inbox row format")
        for key in ("encrypted", "also"):
            data[key] = None if data.get(key) is None else element_from_json(data[key])
        data["reply"] = reply_from_json(data.pop("reply", None))
        data["arrival"] = _row_arrival(data.pop("source"), data.pop("wrapper"))
        return cls(**data)


_ROW_SOURCE = {
    Arrival.LIVE: "live",
    Arrival.OFFLINE: "offline",
    Arrival.CARBON_RECEIVED: "carbon",
    Arrival.CARBON_SENT: "carbon",
    Arrival.MAM: "mam",
}
"""The inbox row's `source` word for an arrival (the words of format 1)."""
_ROW_WRAPPER = {
    Arrival.LIVE: "none",
    Arrival.OFFLINE: "none",
    Arrival.CARBON_RECEIVED: "carbon_received",
    Arrival.CARBON_SENT: "carbon_sent",
    Arrival.MAM: "mam",
}
"""The inbox row's `wrapper` word for an arrival (format 1)."""


def _row_arrival(source: str, wrapper: str) -> Arrival:
    """The arrival of a format-1 row: its wrapper word, else its source word (live, offline).

    Raises:
        ValueError: words no row of format 1 has.
    """
    return Arrival(source if wrapper == "none" else wrapper)


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message to send (`replaces`: the id of the message it corrects, XEP-0308).

    Attributes:
        to: the recipient's bare JID.
        message_id: the stanza `id` (also used as origin-id).
        encrypted: the `<encrypted>` element; None only for an explicitly chosen plaintext send.
        body: plaintext body: the user's text for a chosen plaintext send, or the hint for
            clients without OMEMO (never the user's text when `encrypted` is set).
        also: a second `<encrypted>` element of the other OMEMO version in the same stanza,
            for the devices that publish only that version (`service/versions.py`).
        chat_state: the XEP-0085 state the message carries (active), outside the encryption.
    """

    to: str
    message_id: str
    encrypted: EncryptedElement | None
    body: str | None = field(default=None, repr=False)
    also: EncryptedElement | None = field(default=None, repr=False)
    replaces: str | None = None
    reply: ReplyRef | None = None
    chat_state: str | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    """The parts of an SCE envelope (XEP-0420) the service reads."""

    body: str | None = field(repr=False)
    to: str | None
    sender: str | None
    replaces: str | None = None
    reply: ReplyRef | None = None


@dataclass(frozen=True, slots=True)
class MamPage:
    """One page of a MAM query we opened, oldest first."""

    messages: Sequence[Inbound]
    last_id: str | None
    complete: bool


InboundHandler = Callable[[Inbound], None]
ConnectionHandler = Callable[[bool, str], None]
"""(connected, detail): `detail` is one of the LINK_* sentences below (shown to the user)."""
LINK_ONLINE = "connected"
"""A fresh session: after a reconnect, presence, catch-up and rooms must be redone."""
LINK_RESUMED = "reconnected, nothing missed"
"""The previous stream was resumed (XEP-0198): nothing was lost, nothing to redo."""
LINK_LOST = "connection lost, reconnecting"
"""The stream broke unexpectedly; the transport is reconnecting."""
LINK_OFFLINE = "disconnected"
"""Disconnected for good."""
DeviceListHandler = Callable[[str, DeviceList], None]
"""(bare JID, its new device list): a PEP notification."""


class Transport(ChatStatePort, Acknowledging, Protocol):
    """The XMPP side as the service uses it (also the engine's `Directory`)."""

    @property
    def own_bare_jid(self) -> str:
        """Our bare JID."""
        ...

    def set_handlers(self, inbound: InboundHandler, connection: ConnectionHandler) -> None:
        """Where incoming messages and connection changes go (called on the event loop)."""
        ...

    async def go_online(self) -> None:
        """Announce our presence (after the handlers are set: offline messages follow)."""
        ...

    def set_device_list_handler(self, handler: DeviceListHandler) -> None:
        """Where PEP notifications of device lists go."""
        ...

    async def fetch_device_list(self, namespace: Namespace, bare_jid: str) -> DeviceList:
        """The current device list (empty when none is published).

        Raises:
            TransportError: the request failed (not "no list").
        """
        ...

    async def publish_device_list(self, device_list: DeviceList) -> None:
        """Publish our device list for its namespace (open access)."""
        ...

    async def fetch_bundle(self, namespace: Namespace, bare_jid: str, device_id: int) -> WireBundle:
        """A device's bundle (raises `BundleUnavailable`)."""
        ...

    async def publish_bundle(self, device_id: int, bundle: WireBundle) -> None:
        """Publish our bundle for its namespace."""
        ...

    async def send(self, message: Outbound) -> None:
        """Send one chat message."""
        ...

    async def mam_page(self, after: str | None, max_items: int) -> MamPage:
        """One page of our archive after `after` (a stanza-id), for a query we open here."""
        ...

    async def mam_last_id(self) -> str | None:
        """The stanza-id of the newest message in our archive (None when it is empty)."""
        ...

    def build_envelope(
        self,
        body: str,
        to: str,
        sender: str,
        replaces: str | None = None,
        reply: ReplyRef | None = None,
    ) -> bytes:
        """An SCE envelope with the body (and `<replace>`), `rpad`, `to`, `from`, `time`."""
        ...

    def parse_envelope(self, data: bytes) -> Envelope:
        """Read an SCE envelope (raises ValueError when it is not one)."""
        ...

    async def roster(self) -> Sequence[RosterItem]:
        """The server roster."""
        ...

    async def add_contact(self, bare_jid: str) -> None:
        """Add to the roster and ask for a presence subscription."""
        ...

    async def remove_contact(self, bare_jid: str) -> None:
        """Remove from the roster (the server cancels both subscriptions)."""
        ...

    async def rename_contact(self, bare_jid: str, name: str, groups: tuple[str, ...]) -> None:
        """Set the roster name (empty: none), keeping the groups."""
        ...

    def set_roster_handler(self, handler: Callable[[], None]) -> None:
        """Called when the server pushes a roster change."""
        ...

    def presence(self, jid: str) -> Presence:
        """A contact's availability from the presences received so far."""
        ...

    def set_presence_handler(self, handler: Callable[[str], None]) -> None:
        """Called with a contact's bare JID whenever its presence changes."""
        ...

    def status_text(self, jid: str) -> str:
        """A contact's status message (peer text), "" when it sent none."""
        ...

    def announce(self, show: str, status: str) -> None:
        """Send our availability ("" online, away, dnd, xa) and status message."""
        ...

    def answer_subscription(self, jid: str, allow: bool) -> None:
        """Allow or refuse `jid`'s request to see our presence."""
        ...

    def set_subscription_request_handler(self, handler: Callable[[str], None]) -> None:
        """Called with the bare JID of someone asking to see our presence."""
        ...

    async def archived_sent_ids(self, message_ids: Collection[str], since_ms: int) -> set[str]:
        """Which of our sent messages (by origin-id) our archive holds since `since_ms`.

        Raises:
            TransportError: the archive could not be asked.
        """
        ...

    async def ping(self, within: float) -> None:
        """A round trip to the server: everything sent before has arrived.

        Raises:
            TransportError: no answer within `within` seconds, or no stream.
        """
        ...


# --- group chats ---------------------------------------------------------------------------

AFFILIATIONS_WITH_KEYS = ("owner", "admin", "member")
"""The affiliations whose real JIDs get message keys (OMEMO-WIRE.md §6, MUC row)."""
OMEMO_ROOM_CONFIG = {
    "muc#roomconfig_whois": "anyone",
    "muc#roomconfig_membersonly": "1",
    "muc#roomconfig_persistentroom": "1",
    "muc#roomconfig_publicroom": "0",
}
"""What a room must be for OMEMO: members know each other's real JIDs, only members join."""


@dataclass(frozen=True, slots=True)
class Occupant:
    """One occupant as told by the room's presence.

    Attributes:
        room: the room's bare JID.
        nick: the occupant's nickname (resource of the occupant JID).
        real_jid: the occupant's real bare JID, when the room reveals it.
        affiliation: `owner`, `admin`, `member`, `outcast` or `none`.
        role: `moderator`, `participant`, `visitor` or `none`.
        available: False when the occupant left.
        is_self: True for our own presence in the room (status 110).
        status_codes: all status codes of the presence.
    """

    room: str
    nick: str
    real_jid: str | None
    affiliation: str
    role: str
    available: bool
    is_self: bool
    status_codes: frozenset[str]


@dataclass(frozen=True, slots=True)
class RoomFeatures:
    """What a room's disco#info says about it.

    Attributes:
        features: every `<feature var>`.
        name: the room's name from its identity, or None.
    """

    features: frozenset[str]
    name: str | None = None

    @property
    def non_anonymous(self) -> bool:
        """Every occupant sees every other occupant's real JID."""
        return "muc_nonanonymous" in self.features

    @property
    def members_only(self) -> bool:
        """Only members may enter."""
        return "muc_membersonly" in self.features


@dataclass(frozen=True, slots=True)
class Bookmark:
    """One bookmarked room.

    Attributes:
        room: the room's bare JID.
        nick: our nickname there, or None for the client's default.
        autojoin: join on connect.
        name: a display name, or None.
    """

    room: str
    nick: str | None
    autojoin: bool
    name: str | None = None


RoomListener = Callable[[str], None]
"""Called with a room's bare JID when its occupants, affiliations or subject changed."""


class RoomTransport(Protocol):
    """The group-chat side of the network (XEP-0045 rooms, their archives, bookmarks), as
    `service/muc.py` uses it. Every method takes the room's bare JID."""

    def add_listener(self, listener: RoomListener) -> None:
        """Call `listener(room)` whenever a joined room's occupants, affiliations or subject
        change."""
        ...

    def joined(self, room: str) -> bool:
        """Whether we are in the room."""
        ...

    async def join(
        self, room: str, nick: str, *, configure_new: dict[str, str] | None = None
    ) -> Occupant:
        """Join as `nick`; a room created by this join gets `configure_new`. Our occupant.

        Raises:
            TransportError: the room refused us or was silent.
        """
        ...

    def leave(self, room: str) -> None:
        """Leave the room (nothing happens when we are not in it)."""
        ...

    def occupants(self, room: str) -> Mapping[str, Occupant]:
        """The present occupants by nickname."""
        ...

    def real_jid(self, room: str, nick: str) -> str | None:
        """The real bare JID behind a nickname, when the room told us."""
        ...

    def subject(self, room: str) -> str:
        """The room's subject ("" when none)."""
        ...

    def set_subject(self, room: str, subject: str) -> None:
        """Ask the room to change its subject."""
        ...

    def affiliations_changed(self, room: str) -> bool:
        """True once after the room told us an absent user's affiliation changed."""
        ...

    def own_affiliation(self, room: str) -> str:
        """Our affiliation (`none` when the room has not told us)."""
        ...

    async def features(self, room: str) -> RoomFeatures:
        """The room's disco#info (raises TransportError)."""
        ...

    async def affiliated(self, room: str, affiliation: str) -> list[str]:
        """The real bare JIDs with `affiliation` (raises TransportError)."""
        ...

    async def grant_membership(self, room: str, member: str) -> None:
        """Make `member` a member (raises TransportError)."""
        ...

    def invite(self, room: str, contact: str) -> None:
        """Send `contact` a direct invitation."""
        ...

    def send_encrypted(
        self,
        room: str,
        encrypted: EncryptedElement,
        message_id: str,
        body_hint: str | None = None,
        *,
        replaces: str | None = None,
        reply: ReplyRef | None = None,
        chat_state: str | None = None,
    ) -> None:
        """Send one `<encrypted>` groupchat message (`<replace>`, `<reply>` outside it only
        next to 0.3; a chat state outside it in both; raises NotConnected)."""
        ...

    def send_plaintext(self, room: str, body: str, message_id: str, chat_state: str | None) -> None:
        """Send a chosen plaintext groupchat message (raises NotConnected)."""
        ...

    def archive_query_open(self, query_id: str) -> bool:
        """True while `query_id` is one of our open archive queries."""
        ...

    async def query_archive(
        self,
        room: str,
        *,
        after: str | None = None,
        start: datetime | None = None,
        max_results: int = 25,
        last_page: bool = False,
    ) -> MamPage:
        """One page of the room's archive, as inbox items (raises TransportError)."""
        ...

    async def bookmarks(self) -> list[Bookmark]:
        """Our bookmarks (raises TransportError)."""
        ...

    async def add_bookmark(self, bookmark: Bookmark) -> None:
        """Store a bookmark (raises TransportError)."""
        ...

    async def remove_bookmark(self, room: str) -> None:
        """Forget a room's bookmark."""
        ...

    def build_envelope(
        self,
        body: str,
        to: str,
        sender: str,
        replaces: str | None = None,
        reply: ReplyRef | None = None,
    ) -> bytes:
        """An SCE envelope with the body (and `<replace>`), `rpad`, `to`, `from`, `time`."""
        ...

    def parse_envelope(self, data: bytes) -> Envelope:
        """Read an SCE envelope (raises ValueError when it is not one)."""
        ...
