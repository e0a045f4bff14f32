"""What the service needs from the XMPP layer, as plain values and one Protocol.

`Transport` is the service's view of the network: OMEMO device lists and bundles in PEP (it
also serves as the engine's `Directory` port), sending a message, incoming messages as
`Inbound` values, MAM pages of queries we opened, SCE envelopes and the roster. The real
implementation is `service.xmpp_adapter.XmppTransport`, a mapping onto `xmpp.client.XmppClient`
(all XML and slixmpp live in `xmpp/`). Tests use the same adapter against the real Prosody
fixture.

`Inbound` is what the inbox keeps: a parsed stanza whose `<encrypted>` element is still
ciphertext. `to_bytes`/`from_bytes` give the inbox its row format (versioned JSON), so the
inbound pipeline never needs XML (DESIGN.md §2: XML lives only in the XMPP adapter).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tui_omemo.model import Namespace
from tui_omemo.protocol.codec import b64, unb64
from tui_omemo.protocol.elements import DeviceList, EncryptedElement, KeyElement, WireBundle
from tui_omemo.store import InboxSource, RosterItem
from tui_omemo.xmpp.errors import NotConnected, TransportError

INBOUND_FORMAT = 1

__all__ = [
    "LINK_LOST",
    "LINK_OFFLINE",
    "LINK_ONLINE",
    "LINK_RESUMED",
    "ConnectionHandler",
    "DeviceListHandler",
    "Envelope",
    "Inbound",
    "InboundHandler",
    "MamPage",
    "NotConnected",
    "Outbound",
    "Transport",
    "TransportError",
    "Wrapper",
]


class Wrapper(enum.StrEnum):
    """How a forwarded message reached us (what must be authenticated)."""

    NONE = "none"
    CARBON_RECEIVED = "carbon_received"
    CARBON_SENT = "carbon_sent"
    MAM = "mam"


@dataclass(frozen=True, slots=True)
class Inbound:
    """One incoming message stanza, parsed, with any `<encrypted>` element still encrypted.

    Attributes:
        source: live, carbon, MAM or offline storage.
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
        wrapper: carbon / MAM wrapping, checked by the service.
        wrapper_from: the wrapping stanza's `from` (must be our own bare JID).
        mam_query_id: the `queryid` of a MAM result.
        solicited: for MAM results: whether it answers a query we opened.
    """

    source: InboxSource
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
    wrapper: Wrapper = Wrapper.NONE
    wrapper_from: str | None = None
    mam_query_id: str | None = None
    solicited: bool = True
    also: EncryptedElement | None = field(default=None, repr=False)

    def to_bytes(self) -> bytes:
        """The inbox row: versioned JSON, ciphertext base64-encoded."""
        # Field by field, not `asdict` (which deep-copies the ciphertext elements only for
        # them to be replaced): the same keys and values as rows written before.
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
            "source": self.source.value,
            "stanza_id": self.stanza_id,
            "timestamp_ms": self.timestamp_ms,
            "wrapper": self.wrapper.value,
            "wrapper_from": self.wrapper_from,
        }
        if self.also is not None:
            data["also"] = element_json(self.also)
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
        encrypted = data.pop("encrypted")
        also = data.pop("also", None)
        data["source"] = InboxSource(data["source"])
        data["wrapper"] = Wrapper(data["wrapper"])
        element = None if encrypted is None else element_from_json(encrypted)
        return cls(
            encrypted=element, also=None if also is None else element_from_json(also), **data
        )


def element_json(element: EncryptedElement) -> dict[str, Any]:
    return {
        "namespace": element.namespace.value,
        "sid": element.sender_device_id,
        "iv": None if element.iv is None else b64(element.iv),
        "payload": None if element.payload is None else b64(element.payload),
        "keys": [
            {
                "jid": key.bare_jid,
                "rid": key.device_id,
                "data": b64(key.data),
                "kex": key.key_exchange,
            }
            for key in element.keys
        ],
    }


def element_from_json(data: dict[str, Any]) -> EncryptedElement:
    keys = tuple(
        KeyElement(key["jid"], int(key["rid"]), unb64(key["data"]), bool(key["kex"]))
        for key in data["keys"]
    )
    return EncryptedElement(
        Namespace(data["namespace"]),
        int(data["sid"]),
        keys,
        None if data["iv"] is None else unb64(data["iv"]),
        None if data["payload"] is None else unb64(data["payload"]),
    )


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message to send.

    Attributes:
        to: the recipient's bare JID.
        message_id: the stanza `id` (also used as origin-id).
        encrypted: the `<encrypted>` element; None only for an explicitly chosen plaintext send.
        body: plaintext body: the user's text for a chosen plaintext send, or the hint for
            clients without OMEMO (never the user's text when `encrypted` is set).
        also: a second `<encrypted>` element of the other OMEMO version in the same stanza,
            for the devices that publish only that version (`service/versions.py`).
    """

    to: str
    message_id: str
    encrypted: EncryptedElement | None
    body: str | None = field(default=None, repr=False)
    also: EncryptedElement | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Envelope:
    """The parts of an SCE envelope (XEP-0420) the service reads."""

    body: str | None = field(repr=False)
    to: str | None
    sender: str | None


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


class Transport(Protocol):
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

    def build_envelope(self, body: str, to: str, sender: str) -> bytes:
        """An SCE envelope with the body, `rpad`, `to`, `from` and `time` affixes."""
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
