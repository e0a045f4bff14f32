"""What the UI (and the command line) may call, and the events it receives.

This is the one door between `ui/` and the application (DESIGN.md §2): the UI imports this
module, `model`, `events` and `config`, nothing else. The real implementation lives in
`service/`; UI tests drive the app with `devtools.fakes_ui.FakeService`, which implements the same
Protocol.

Every value here is a frozen dataclass with no secrets in it: fingerprints are public data,
message text is the user's own data and is never logged.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from tui_omemo.config import Settings
from tui_omemo.events import SecurityEvent
from tui_omemo.model import Namespace, TrustLevel
from tui_omemo.service.api_chat_states import ChatStateChanged as ChatStateChanged  # noqa: PLC0414
from tui_omemo.service.api_chat_states import ChatStatesService  # XEP-0085 chat states
from tui_omemo.service.api_delivery import Delivery as Delivery  # noqa: PLC0414
from tui_omemo.service.api_editing import EditingService  # issue 17: corrections
from tui_omemo.service.api_files import FileInfo  # issue 18: a message may offer a file
from tui_omemo.service.api_security import ChatSecurity as ChatSecurity  # noqa: PLC0414
from tui_omemo.service.api_social import Presence as Presence  # noqa: PLC0414 (re-export)
from tui_omemo.service.api_social import SocialService  # issue 17: presence, subscriptions


class Subscription(enum.StrEnum):
    """Who sees whose presence (RFC 6121 roster words, with our unanswered request as
    PENDING). Rooms and contacts in a mutual subscription are BOTH."""

    BOTH = "both"
    PENDING = "pending"
    TO = "to"
    FROM = "from"
    NONE = "none"


class MessageTrust(enum.StrEnum):
    """The trust mark next to one message."""

    VERIFIED = "verified"
    BLIND = "blind"
    UNTRUSTED = "untrusted"
    UNENCRYPTED = "unencrypted"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ChatSummary:
    """One row of the roster: a contact or a room."""

    jid: str
    name: str
    is_room: bool
    presence: Presence
    unread: int
    security: ChatSecurity
    omemo: Namespace | None
    status_text: str = ""
    subscription: Subscription = Subscription.BOTH
    in_roster: bool = True  # False: a chat opened by JID (it works as any, offers adding)
    asks_subscription: bool = False  # they asked to see our presence: no answer yet


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a chat log, as archived."""

    archive_id: int
    peer: str
    outgoing: bool
    sender: str
    time: datetime
    body: str
    trust: MessageTrust
    omemo: Namespace | None
    sender_device_id: int | None = None
    nick: str | None = None
    failure: str | None = None
    delivery: Delivery = Delivery.SENT
    file: FileInfo | None = None
    """The file offered when the body is one aesgcm:// link (show it, never the body)."""
    edited: bool = False  # the body is a correction's (XEP-0308): see `message_versions`
    corrects: int | None = None  # a correction: the archive id it corrects (shown there)
    reply_to: str | None = None  # a reply (XEP-0461): the wire id of the message answered
    message_id: str | None = None  # what a reply names (in a room: the room's stanza-id)


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Messages older than a cursor, oldest first; `before` is the cursor for the next page."""

    messages: tuple[ChatMessage, ...]
    before: int | None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One full-text search result with its context snippet."""

    message: ChatMessage
    snippet: str


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One device of a contact (or of the user), as the trust manager shows it."""

    bare_jid: str
    device_id: int
    fingerprint: str
    trust: TrustLevel
    active: bool
    namespaces: tuple[Namespace, ...]
    own: bool = False
    this_device: bool = False
    label: str | None = None
    last_seen: datetime | None = None


@dataclass(frozen=True, slots=True)
class SkippedDevice:
    """A device that did not get the message key, and why, in plain words.

    Attributes:
        bare_jid: whose device.
        device_id: which device; None for a JID without any device (or a room member).
        reason: why, in words for people.
        code: why, for programs: "untrusted", "undecided", "no_bundle", "invalid_bundle",
            "no_devices", "inactive", "stale" (an own device silent for longer than the
            stale limit), "other_version" (it publishes only the OMEMO version this chat is
            not set to), or "" when not given.
    """

    bare_jid: str
    device_id: int | None
    reason: str
    code: str = ""


@dataclass(frozen=True, slots=True)
class SendReport:
    """What happened to one send: where it went, and who was left out."""

    archive_id: int | None
    omemo: Namespace | None
    skipped: tuple[SkippedDevice, ...] = ()
    versions: tuple[Namespace, ...] = ()
    """Every OMEMO version the stanza carried, `omemo` first (two when some devices publish
    only OMEMO 2 and others only 0.3); empty for plaintext."""
    queued: bool = False
    """Archived and encrypted, but not handed to the server yet: the stream was down, or (a
    room message) the room is being joined again after a fresh session. It waits in the
    outbox and goes out on the next connect or once the room is joined."""


class SendFailed(Exception):
    """Nothing was sent (DESIGN.md §3.4): no OMEMO device, no trusted recipient, a failed
    encryption or device-list fetch. `str(error)` is one sentence for the user; `report` lists
    the devices that were skipped and why. Plaintext is never sent as a fallback.

    `partial_possible` is True only for a room send stopped by members without a usable
    device while other members have one: sending again with `allow_partial` would reach
    them. When nobody can receive the message it is False, and skipping cannot help.
    """

    def __init__(self, reason: str, report: SendReport, *, partial_possible: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.report = report
        self.partial_possible = partial_possible


@dataclass(frozen=True, slots=True)
class MemberReadiness:
    """One group member's OMEMO readiness."""

    bare_jid: str
    nick: str | None
    has_keys: bool
    trusted: int
    undecided: int
    distrusted: int
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """A joined room: its OMEMO gate and its members."""

    jid: str
    nick: str
    subject: str
    omemo_allowed: bool
    omemo_refusal: str | None
    members: tuple[MemberReadiness, ...] = ()


@dataclass(frozen=True, slots=True)
class UriFingerprint:
    """One fingerprint of a pasted trust URI, with what applying it would change."""

    device_id: int
    fingerprint: str
    known: bool
    current: TrustLevel | None


@dataclass(frozen=True, slots=True)
class UriPreview:
    """A parsed `xmpp:…?omemo-sid-N=…` URI, shown before the user confirms it."""

    bare_jid: str
    fingerprints: tuple[UriFingerprint, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """The account as the account screen and `account show` present it (never the password).

    Attributes:
        jid: the account's bare JID.
        device_id: this device's OMEMO device id.
        fingerprint: this device's fingerprint (groups of hex digits).
        label: this device's label (published on the OMEMO 2 device list), or None.
        server_host: where to connect, or None for the JID's domain.
        server_port: its port, or None for the default.
        allow_plaintext_loopback: whether an unencrypted stream to a loopback server is allowed.
        has_password: whether a password is stored.
        other_devices: our other OMEMO devices, as last seen.
        certificate_pin: the SHA-256 (`AA:BB:…`) of the one server certificate the user
            pinned, or None (the certificate must be trusted by a CA and name the domain).
    """

    jid: str
    device_id: int
    fingerprint: str
    label: str | None
    server_host: str | None
    server_port: int | None
    allow_plaintext_loopback: bool
    has_password: bool
    other_devices: tuple[DeviceInfo, ...] = ()
    certificate_pin: str | None = None

    @property
    def server(self) -> str:
        """`HOST:PORT` as typed into `--server`, or "" for the JID's domain."""
        if self.server_host is None:
            return ""
        host = f"[{self.server_host}]" if ":" in self.server_host else self.server_host
        return host if self.server_port is None else f"{host}:{self.server_port}"


@dataclass(frozen=True, slots=True)
class AccountChange:
    """What to change of the account; None leaves a field as it is. Keys, trust and history
    are never touched by a change.

    Attributes:
        password: the new password.
        server: `HOST[:PORT]`, or "" to connect to the JID's domain again.
        allow_plaintext_loopback: the loopback-plaintext switch (only for a loopback server).
        label: this device's label, or "" to remove it.
        certificate_pin: pin the server certificate with this SHA-256 (64 hex digits, colons
            allowed), or "" to remove the pin. Only an explicit act of the user sets it.
    """

    password: str | None = field(default=None, repr=False)
    server: str | None = None
    allow_plaintext_loopback: bool | None = None
    label: str | None = None
    certificate_pin: str | None = None


@dataclass(frozen=True, slots=True)
class RefusedCertificate:
    """A server certificate a login refused, as the account screen shows it so that the user
    can compare it with the one the server's admin gives and pin it.

    Attributes:
        domain: the JID's domain the certificate was checked against.
        fingerprint: its SHA-256 as upper-case hex pairs joined by colons (`AA:BB:…`).
        problem: what is wrong with it, in words and without the fingerprint ("the
            certificate of D is not trusted: self-signed").
    """

    domain: str
    fingerprint: str
    problem: str


class CertificateRefused(Exception):
    """A login failed because the server's certificate was refused (not trusted, not for the
    domain, or not the pinned one). `str(error)` is the one line for the user; `certificate`
    is what the account screen offers to pin (never pinned without the user's act)."""

    def __init__(self, reason: str, certificate: RefusedCertificate) -> None:
        super().__init__(reason)
        self.certificate = certificate


class AccountEditor(Protocol):
    """Reads and changes the account: the running service, or (after a failed login, when no
    service runs) the profile directly."""

    async def account(self) -> AccountInfo:
        """The account, this device and our other devices."""
        ...

    async def update_account(self, change: AccountChange) -> AccountInfo:
        """Apply `change` and return the account as stored now.

        Raises:
            ValueError: the change is invalid (the reason in words); nothing was changed.
        """
        ...


# --- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A message was archived (incoming, or our own from another device)."""

    message: ChatMessage


@dataclass(frozen=True, slots=True)
class MessageSent:
    """One of our messages, sent from this device, was archived: the chat shows it at once,
    pending (`Delivery.PENDING`) until a `MessageDelivered` for its archive id follows. Emitted
    for every send that archived a message (1:1 and room, encrypted or chosen plaintext,
    queued or handed over), never for a send that raised `SendFailed`. In a room, once more
    when the room stamped its stanza-id on it (`message_id`, what replies there name)."""

    message: ChatMessage


@dataclass(frozen=True, slots=True)
class RosterChanged:
    """A roster row changed (presence, unread, badge)."""

    chat: ChatSummary


@dataclass(frozen=True, slots=True)
class SecurityEventRaised:
    """A security event was stored."""

    event: SecurityEvent


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    """The connection to the server changed state; `detail` is one sentence."""

    connected: bool
    detail: str


@dataclass(frozen=True, slots=True)
class MessageDelivered:
    """One of our messages got further: the server confirmed it (it left the outbox), or a
    receipt or displayed marker of the contact raised it to `delivery`."""

    archive_id: int
    peer: str
    delivery: Delivery = Delivery.SENT


@dataclass(frozen=True, slots=True)
class Progress:
    """A long task (key generation, catch-up) moved on."""

    task: str
    done: int
    total: int


ServiceEvent = (
    MessageReceived
    | MessageSent
    | RosterChanged
    | SecurityEventRaised
    | ConnectionChanged
    | MessageDelivered
    | Progress
    | ChatStateChanged
)


class ChatService(SocialService, ChatStatesService, EditingService, Protocol):
    """The application as the UI sees it. All methods are safe to call from the event loop."""

    @property
    def own_jid(self) -> str:
        """The account's bare JID."""
        ...

    def events(self) -> AsyncIterator[ServiceEvent]:
        """Background events; exactly one UI worker drains this."""
        ...

    async def chats(self) -> Sequence[ChatSummary]:
        """The roster: contacts and rooms."""
        ...

    async def chat_summary(self, jid: str) -> ChatSummary:
        """One chat's summary, whether or not `jid` is in the roster (a joined room: the
        room's). For a JID not in the roster its device lists are fetched first, so that the
        chat can encrypt at once; `in_roster` is then False."""
        ...

    async def history(self, peer: str, before: int | None, limit: int) -> HistoryPage:
        """A page of a chat's archive older than `before` (None: the newest)."""
        ...

    async def send(self, peer: str, text: str, *, allow_plaintext: bool = False) -> SendReport:
        """Encrypt and send; never sends plaintext unless `allow_plaintext` (DESIGN.md §3.4)."""
        ...

    async def devices(self, bare_jid: str | None = None) -> Sequence[DeviceInfo]:
        """Devices of one contact, or (None) our own devices followed by every contact's."""
        ...

    async def set_trust(self, bare_jid: str, device_id: int, level: TrustLevel) -> None:
        """Record a manual trust decision."""
        ...

    async def rebuild_session(self, bare_jid: str, device_id: int) -> None:
        """Build a fresh session with one device and send it an empty message."""
        ...

    async def own_trust_uri(self) -> str:
        """Our `xmpp:` trust URI: this device plus our verified other devices."""
        ...

    async def preview_trust_uri(self, uri: str) -> UriPreview:
        """Parse a pasted URI and say what verifying it would change (raises ValueError)."""
        ...

    async def apply_trust_uri(self, uri: str) -> int:
        """Verify every fingerprint in the URI; returns how many devices became verified."""
        ...

    async def search(self, text: str, peer: str | None = None) -> Sequence[SearchHit]:
        """Full-text search over the archive."""
        ...

    async def security_events(self, limit: int = 200) -> Sequence[SecurityEvent]:
        """The newest security events, newest first."""
        ...

    async def settings(self) -> Settings:
        """The current settings."""
        ...

    async def update_setting(self, key: str, value: str) -> Settings:
        """Change one setting from its text form (raises ValueError with the reason)."""
        ...

    async def join_room(self, room: str, nick: str) -> RoomInfo:
        """Join a room and report its OMEMO gate and member readiness."""
        ...

    async def leave_room(self, room: str) -> None:
        """Leave a room."""
        ...

    async def send_to_room(
        self, room: str, text: str, *, allow_plaintext: bool = False, allow_partial: bool = False
    ) -> SendReport:
        """Encrypt for every trusted device of every member of a joined room and send.

        Args:
            room: the room's bare JID.
            text: the message.
            allow_plaintext: send unencrypted, only honoured in a room that refuses OMEMO.
            allow_partial: send to everyone with keys, skipping (and reporting) members
                without a usable device.

        Returns:
            What was sent and which devices were skipped.

        Raises:
            SendFailed: nothing was sent, e.g. members without usable keys and no
                `allow_partial` (its report lists them).
            KeyError: the room is not joined.
        """
        ...

    async def set_partial_choice(self, room: str, allowed: bool) -> None:
        """Remember for `room` whether sending to everyone with keys (skipping members
        without a usable device) is allowed."""
        ...

    async def add_contact(self, bare_jid: str) -> None:
        """Add a contact to the roster and ask for presence subscription."""
        ...

    async def invite(self, room: str, bare_jid: str) -> bool:
        """Invite a contact into a joined room (XEP-0249 direct invitation), making them a
        member first when we are allowed to; True when they were made a member.

        Raises:
            KeyError: the room is not joined.
            TransportError: the room refused the membership.
        """
        ...

    async def remove_contact(self, bare_jid: str) -> None:
        """Remove a contact from the roster, ending both presence subscriptions; its chat
        history and trust decisions stay.

        Raises:
            TransportError: the server refused or did not answer.
        """
        ...

    async def rename_contact(self, bare_jid: str, name: str) -> None:
        """Give a contact a roster name (empty: none); a RosterChanged follows.

        Raises:
            KeyError: `bare_jid` is not a contact.
            TransportError: the server refused or did not answer.
        """
        ...

    # --- added for the Textual app (issue 6) ------------------------------------------------

    async def room_info(self, room: str) -> RoomInfo:
        """A joined room's OMEMO gate and member readiness, without joining again.

        Raises:
            KeyError: when the room is not joined.
        """
        ...

    async def mark_read(self, peer: str) -> None:
        """The user has seen the chat: set its unread count to zero (a RosterChanged follows)."""
        ...

    async def refresh_device_list(self, bare_jid: str) -> None:
        """Fetch a contact's device lists (both OMEMO versions) again, e.g. after a failure."""
        ...

    async def stale_own_devices(self) -> Sequence[DeviceInfo]:
        """Our other devices silent for longer than `delete_stale_after_hours`: the preview
        shown before `remove_own_devices`."""
        ...

    async def remove_own_devices(self, device_ids: Collection[int]) -> None:
        """Remove our other devices from both of our published device lists (never this one).

        Raises:
            TransportError: the lists could not be fetched or published.
        """
        ...

    # --- account editing (issue 11) -----------------------------------------------------------

    async def account(self) -> AccountInfo:
        """The account, this device and our other devices, our device lists fetched again
        first when the server answers (`AccountEditor`)."""
        ...

    async def update_account(self, change: AccountChange) -> AccountInfo:
        """Apply `change` (`AccountEditor`). A new password or server is used from the next
        start (a reconnect of the running client keeps the old ones); a new label is
        published on our OMEMO 2 device list at once.

        Raises:
            ValueError: the change is invalid (the reason in words); nothing was changed.
        """
        ...
