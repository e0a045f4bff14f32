"""`FakeService`: the whole `ChatService` Protocol in memory, with fixed, realistic data.

UI tests, snapshots, screenshots and `benchmarks/ui.py` drive `TuiOmemoApp` with it. The data is
frozen (times are fixed instants) so that snapshots do not move: four contacts with different
badges, a room with member readiness, devices in every trust state, and messages with every trust
mark. Every call that changes something is recorded in `calls`, so that tests can assert on what
the UI asked for; `emit()` pushes a background event into the one `events()` stream.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import UTC, datetime, timedelta

from tui_omemo.config import Settings
from tui_omemo.events import SecurityEvent, SecurityEventKind
from tui_omemo.model import Namespace, TrustLevel
from tui_omemo.protocol.media_link import file_link
from tui_omemo.service.account import changed_account, check_label
from tui_omemo.service.api import (
    AccountChange,
    AccountInfo,
    ChatMessage,
    ChatSecurity,
    ChatSummary,
    Delivery,
    DeviceInfo,
    HistoryPage,
    MemberReadiness,
    MessageDelivered,
    MessageReceived,
    MessageSent,
    MessageTrust,
    Presence,
    RoomInfo,
    RosterChanged,
    SearchHit,
    SecurityEventRaised,
    SendFailed,
    SendReport,
    ServiceEvent,
    SkippedDevice,
    Subscription,
    UriFingerprint,
    UriPreview,
)
from tui_omemo.service.certificate_pin import check_pin
from tui_omemo.service.facade_editing import LAST_IS_A_FILE
from tui_omemo.service.replies import NO_ROOM_ID
from tui_omemo.store import Account

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
"""The instant the frozen test clock shows."""

OWN = "alice@example.org"
BOB = "bob@example.org"
CAROL = "carol@example.org"
DAVE = "dave@example.net"
ERIN = "erin@example.org"
ROOM = "tea@rooms.example.org"
NO_LIST = "No device list published."

TRUSTED = (TrustLevel.VERIFIED, TrustLevel.BLINDLY_TRUSTED)
"""The trust levels that get message keys (BTBV on)."""

OPEN_ROOM_REFUSAL = "The room is not members-only and non-anonymous."

FAILURE = "No session with this device: the message was encrypted for a session we do not have."


def fingerprint(bare_jid: str, device_id: int) -> str:
    """A stable 64-hex-digit fingerprint for a fake device."""
    return hashlib.sha256(f"{bare_jid}/{device_id}".encode()).hexdigest()


def _device(bare_jid: str, device_id: int, trust: TrustLevel, **extra: object) -> DeviceInfo:
    values: dict[str, object] = {
        "active": True,
        "namespaces": (Namespace.V2, Namespace.LEGACY),
        "last_seen": NOW - timedelta(hours=device_id % 50),
    }
    values.update(extra)
    return DeviceInfo(bare_jid, device_id, fingerprint(bare_jid, device_id), trust, **values)  # type: ignore[arg-type]


def _chats() -> list[ChatSummary]:
    return [
        ChatSummary(
            BOB,
            "Bob",
            False,
            Presence.ONLINE,
            2,
            ChatSecurity.UNDECIDED_DEVICES,
            Namespace.V2,
            "on the train",
        ),
        ChatSummary(
            CAROL,
            "Carol",
            False,
            Presence.AWAY,
            0,
            ChatSecurity.ALL_VERIFIED,
            Namespace.LEGACY,
            "back at 3",
        ),
        ChatSummary(DAVE, "Dave", False, Presence.OFFLINE, 0, ChatSecurity.NO_OMEMO, None),
        ChatSummary(ERIN, "Erin", False, Presence.BUSY, 1, ChatSecurity.SOME_BLIND, Namespace.V2),
        ChatSummary(
            ROOM,
            "Tea room",
            True,
            Presence.ONLINE,
            5,
            ChatSecurity.SOME_BLIND,
            Namespace.V2,
            "Biscuits and key fingerprints",
        ),
    ]


def _devices() -> list[DeviceInfo]:
    return [
        _device(OWN, 1001, TrustLevel.VERIFIED, own=True, this_device=True, label="laptop"),
        _device(OWN, 1002, TrustLevel.VERIFIED, own=True, label="phone"),
        _device(
            OWN,
            1003,
            TrustLevel.BLINDLY_TRUSTED,
            own=True,
            active=False,
            namespaces=(Namespace.LEGACY,),
            last_seen=NOW - timedelta(days=40),
        ),
        _device(BOB, 2001, TrustLevel.VERIFIED, label="Conversations"),
        _device(BOB, 2002, TrustLevel.UNDECIDED, label="Dino"),
        _device(BOB, 2003, TrustLevel.UNDECIDED, namespaces=(Namespace.V2,)),
        _device(CAROL, 3001, TrustLevel.VERIFIED, namespaces=(Namespace.LEGACY,), label="Gajim"),
        _device(ERIN, 5001, TrustLevel.BLINDLY_TRUSTED, label="Monal"),
        _device(ERIN, 5002, TrustLevel.DISTRUSTED, active=False, last_seen=None),
    ]


def _messages() -> dict[str, list[ChatMessage]]:
    def at(minutes: int) -> datetime:
        return NOW - timedelta(minutes=minutes)

    v2, legacy = Namespace.V2, Namespace.LEGACY
    bob = [
        (False, BOB, 190, "Did you get the new phone set up?", MessageTrust.VERIFIED, v2, 2001),
        (True, OWN, 185, "Yes, finally. OMEMO keys and all.", MessageTrust.VERIFIED, v2, 1001),
        (False, BOB, 120, "I installed Dino on the desktop too.", MessageTrust.BLIND, v2, 2002),
        (
            False,
            BOB,
            60,
            "This one is from a device you have not checked.",
            MessageTrust.UNTRUSTED,
            v2,
            2003,
        ),
        (False, BOB, 30, "", MessageTrust.FAILED, legacy, 2002),
        (
            False,
            BOB,
            5,
            "Can you verify my new keys when you have a minute?",
            MessageTrust.VERIFIED,
            v2,
            2001,
        ),
    ]
    carol = [
        (False, CAROL, 3000, "Meeting moved to Thursday.", MessageTrust.VERIFIED, legacy, 3001),
        (True, OWN, 2990, "Thanks, noted!", MessageTrust.VERIFIED, legacy, 1001),
    ]
    dave = [(False, DAVE, 400, "hey, are you there?", MessageTrust.UNENCRYPTED, None, None)]
    erin = [(False, ERIN, 90, "Lunch tomorrow?", MessageTrust.BLIND, v2, 5001)]
    log: dict[str, list[ChatMessage]] = {}
    next_id = 1
    for peer, rows in ((BOB, bob), (CAROL, carol), (DAVE, dave), (ERIN, erin)):
        for outgoing, sender, minutes, body, trust, ns, device in rows:
            failure = FAILURE if trust is MessageTrust.FAILED else None
            log.setdefault(peer, []).append(
                ChatMessage(
                    next_id,
                    peer,
                    outgoing,
                    sender,
                    at(minutes),
                    body,
                    trust,
                    ns,
                    device,
                    failure=failure,
                )
            )
            next_id += 1
    room_rows = [
        ("bob", BOB, 50, "Who brought the shortbread?", MessageTrust.VERIFIED),
        ("carol", CAROL, 45, "Guilty. Fingerprints on the tin are mine.", MessageTrust.VERIFIED),
        ("erin", ERIN, 40, "I'll swap mine for a QR code scan later.", MessageTrust.BLIND),
        ("alice", OWN, 35, "Deal. Bring your phone.", MessageTrust.VERIFIED),
        ("mallory", "mallory@evil.example", 20, "i have no keys lol", MessageTrust.UNENCRYPTED),
    ]
    for nick, sender, minutes, body, trust in room_rows:
        encrypted = trust is not MessageTrust.UNENCRYPTED
        log.setdefault(ROOM, []).append(
            ChatMessage(
                next_id,
                ROOM,
                sender == OWN,
                sender,
                at(minutes),
                body,
                trust,
                v2 if encrypted else None,
                4242 if encrypted else None,
                nick=nick,
            )
        )
        next_id += 1
    return log


def _security_events() -> list[SecurityEvent]:
    return [
        SecurityEvent(SecurityEventKind.NEW_DEVICE, BOB, 2003, "Bob has a new device 2003."),
        SecurityEvent(
            SecurityEventKind.DECRYPTION_FAILED,
            BOB,
            2002,
            "A message from device 2002 could not be decrypted: no session.",
        ),
        SecurityEvent(
            SecurityEventKind.DEVICE_TRUSTED_BLINDLY,
            ERIN,
            5001,
            "Device 5001 was trusted blindly (BTBV).",
        ),
        SecurityEvent(
            SecurityEventKind.PLAINTEXT_IN_ENCRYPTED_CHAT,
            ROOM,
            None,
            "mallory sent an unencrypted message in an encrypted room.",
        ),
    ]


def _members() -> tuple[MemberReadiness, ...]:
    return (
        MemberReadiness(BOB, "bob", True, 1, 2, 0),
        MemberReadiness(CAROL, "carol", True, 1, 0, 0),
        MemberReadiness(ERIN, "erin", True, 1, 0, 1),
        MemberReadiness("mallory@evil.example", "mallory", False, 0, 0, 0, NO_LIST),
    )


class FakeService:
    """An in-memory `ChatService` with fixed data; see the module docstring."""

    def __init__(self, *, empty: bool = False) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []
        self.chat_states: list[tuple[str, str]] = []
        """What the composer told the service: (chat, state)."""
        self._events: asyncio.Queue[ServiceEvent] = asyncio.Queue()
        self._chats = [] if empty else _chats()
        self._devices = _devices()[:3] if empty else _devices()
        self._log: dict[str, list[ChatMessage]] = {} if empty else _messages()
        self._versions: dict[int, list[str]] = {}
        """Per archive id: the texts of a corrected message, oldest first."""
        self._generated: dict[str, int] = {}
        self._security = [] if empty else _security_events()
        self._settings = Settings()
        self._next_id = 10_000_000
        self._partial: set[str] = set()
        self._nicks: dict[str, str] = {}
        self._rooms: dict[str, tuple[MemberReadiness, ...]] = {}
        """Rooms configured for OMEMO (besides ROOM), with their members."""
        self.open_rooms: set[str] = {"open@rooms.example.org"}
        """Rooms that exist and refuse OMEMO (not members-only, semi-anonymous)."""
        self._members = _members()
        self._account = Account(OWN, "secret")
        self._label: str | None = "laptop"
        self._certificate_pin: str | None = None
        self.send_versions: dict[str, tuple[Namespace, ...]] = {}
        """Per peer: the OMEMO versions `send` reports (default: the chat's one version)."""
        self.hold_delivery = False
        """Keep our sent messages pending (no `MessageDelivered`) until `deliver` is called;
        by default the server's confirmation follows the send at once."""

    def remove_room_keys(self) -> None:
        """Nobody in ROOM has OMEMO keys any more (the state where skipping cannot help)."""
        self._members = tuple(
            dataclasses.replace(
                m,
                has_keys=False,
                trusted=0,
                undecided=0,
                distrusted=0,
                last_error=m.last_error or "No trusted device.",
            )
            for m in self._members
        )

    # --- test helpers ------------------------------------------------------------------

    def emit(self, event: ServiceEvent) -> None:
        """Push a background event to whoever drains `events()`."""
        self._events.put_nowait(event)

    def generate(self, peer: str, count: int) -> None:
        """Give `peer` an archive of `count` generated messages (built page by page on demand)."""
        self._generated[peer] = count
        if all(chat.jid != peer for chat in self._chats):
            self._chats.append(
                ChatSummary(
                    peer,
                    peer.split("@", maxsplit=1)[0],
                    False,
                    Presence.ONLINE,
                    0,
                    ChatSecurity.ALL_VERIFIED,
                    Namespace.V2,
                )
            )

    def next_message(self, peer: str, body: str, **changes: object) -> ChatMessage:
        """A new incoming message from `peer` (not yet emitted)."""
        self._next_id += 1
        message = ChatMessage(
            self._next_id, peer, False, peer, NOW, body, MessageTrust.VERIFIED, Namespace.V2, 2001
        )
        message = dataclasses.replace(message, message_id=f"fake-{self._next_id}")
        return dataclasses.replace(message, **changes)  # type: ignore[arg-type]

    def add_chat(self, chat: ChatSummary, messages: Sequence[ChatMessage] = ()) -> None:
        """Add a roster row and its archive (for tests with special data)."""
        self._chats.append(chat)
        self._log.setdefault(chat.jid, []).extend(messages)

    def _record(self, name: str, *args: object) -> None:
        self.calls.append((name, args))

    # --- ChatService -------------------------------------------------------------------

    @property
    def own_jid(self) -> str:
        return OWN

    async def events(self) -> AsyncIterator[ServiceEvent]:
        while True:
            yield await self._events.get()

    async def chats(self) -> Sequence[ChatSummary]:
        return list(self._chats)

    async def chat_summary(self, jid: str) -> ChatSummary:
        """The roster row, else (as the real service) a chat with someone not in the roster:
        named by the JID, offline, OMEMO as their devices say."""
        chat = next((c for c in self._chats if c.jid == jid), None)
        if chat is not None:
            return chat
        self._record("refresh_device_list", jid)
        return self._unlisted(jid)

    def _unlisted(self, jid: str) -> ChatSummary:
        known = [d for d in self._devices if d.bare_jid == jid and d.active]
        omemo = Namespace.V2 if known else None
        if not known:
            security = ChatSecurity.NO_OMEMO
        elif any(d.trust is TrustLevel.UNDECIDED for d in known):
            security = ChatSecurity.UNDECIDED_DEVICES
        elif all(d.trust is TrustLevel.DISTRUSTED for d in known):
            security = ChatSecurity.NO_TRUSTED_DEVICE
        elif any(d.trust is TrustLevel.BLINDLY_TRUSTED for d in known):
            security = ChatSecurity.SOME_BLIND
        else:
            security = ChatSecurity.ALL_VERIFIED
        return ChatSummary(
            jid,
            jid,
            False,
            Presence.OFFLINE,
            0,
            security,
            omemo,
            subscription=Subscription.NONE,
            in_roster=False,
        )

    async def history(self, peer: str, before: int | None, limit: int) -> HistoryPage:
        if peer in self._generated:
            return self._generated_page(peer, before, limit)
        rows = [m for m in self._log.get(peer, []) if before is None or m.archive_id < before]
        page = rows[-limit:]
        more = len(rows) > len(page)
        return HistoryPage(tuple(page), page[0].archive_id if more and page else None)

    def _generated_page(self, peer: str, before: int | None, limit: int) -> HistoryPage:
        end = self._generated[peer] + 1 if before is None else before
        start = max(1, end - limit)
        page = tuple(
            ChatMessage(
                i,
                peer,
                i % 3 == 0,
                OWN if i % 3 == 0 else peer,
                NOW - timedelta(seconds=self._generated[peer] - i),
                f"Generated message number {i} with a little text to wrap.",
                MessageTrust.VERIFIED,
                Namespace.V2,
                2001,
            )
            for i in range(start, end)
        )
        return HistoryPage(page, start if start > 1 else None)

    async def send(self, peer: str, text: str, *, allow_plaintext: bool = False) -> SendReport:
        """As the real service: plaintext only when chosen (and then remembered), else
        encrypted for the contact's trusted devices (SendFailed when none is left), the
        others reported skipped; our message is archived and announced pending."""
        self._record("send", peer, text, allow_plaintext)
        chat = next((c for c in self._chats if c.jid == peer), None) or self._unlisted(peer)
        chosen = chat.security is ChatSecurity.PLAINTEXT_CHOSEN
        if chat.omemo is None and not allow_plaintext and not chosen:
            raise SendFailed(  # the real service's words and report
                f"{peer} publishes no OMEMO device; nothing was sent. Choose to send "
                "unencrypted to this contact explicitly if you want to.",
                SendReport(
                    None,
                    None,
                    (SkippedDevice(peer, None, "no OMEMO device published", "no_devices"),),
                ),
            )
        if allow_plaintext or chat.omemo is None:
            if allow_plaintext:
                self._remember(dataclasses.replace(chat, security=ChatSecurity.PLAINTEXT_CHOSEN))
            return SendReport(self._sent(peer, text, None).archive_id, None)
        skipped = self._skipped(peer)
        mine = [d for d in self._devices if d.bare_jid == peer and d.active]
        if not any(d.trust in TRUSTED for d in mine):
            raise SendFailed(
                f"no trusted device of {peer} can receive the message; nothing was sent",
                SendReport(None, chat.omemo, skipped),
            )
        message = self._sent(peer, text, chat.omemo)
        versions = self.send_versions.get(peer, (chat.omemo,))
        return SendReport(message.archive_id, chat.omemo, skipped, versions)

    async def correct_last(
        self, peer: str, text: str, *, allow_partial: bool = False
    ) -> SendReport:
        """As the real service: our last encrypted message of the chat gets the new text,
        marked edited, announced as a correction (`MessageSent` with `corrects`); in a room
        it passes the room's gate of members without keys (`send_to_room`)."""
        self._record("correct_last", peer, text)
        log = self._log.get(peer, [])
        index = next(
            (i for i in range(len(log) - 1, -1, -1) if log[i].outgoing and log[i].omemo), None
        )
        if index is None:
            raise SendFailed(
                "you have sent no encrypted message in this chat to correct",
                SendReport(None, None),
            )
        if file_link(log[index].body) is not None:
            raise SendFailed(LAST_IS_A_FILE, SendReport(None, None))
        skipped = self._room_gate(peer, allow_partial) if self._is_room(peer) else ()
        original = log[index]
        self._versions.setdefault(original.archive_id, [original.body]).append(text)
        log[index] = dataclasses.replace(original, body=text, edited=True)
        self._next_id += 1
        correction = dataclasses.replace(
            original, archive_id=self._next_id, body=text, corrects=original.archive_id
        )
        self.emit(MessageSent(correction))
        return SendReport(correction.archive_id, original.omemo, skipped)

    async def reply(
        self, peer: str, archive_id: int, text: str, *, allow_partial: bool = False
    ) -> SendReport:
        """As the real service: our message, shown without its quote, names the one answered;
        in a room it passes the room's gate of members without keys (`send_to_room`)."""
        self._record("reply", peer, archive_id, text)
        original = next(m for m in self._log.get(peer, []) if m.archive_id == archive_id)
        chat = next(c for c in self._chats if c.jid == peer)
        if original.message_id is None:  # in a room: the room gave it no stanza-id
            raise SendFailed(NO_ROOM_ID, SendReport(None, None))
        skipped = self._room_gate(peer, allow_partial) if chat.is_room else ()
        nick = self._nicks.get(peer, "alice") if chat.is_room else None
        message = self._sent(peer, text, chat.omemo, nick, reply_to=original.message_id)
        return SendReport(message.archive_id, chat.omemo, skipped)

    def _is_room(self, peer: str) -> bool:
        return any(c.jid == peer and c.is_room for c in self._chats)

    async def message_versions(self, archive_id: int) -> list[str]:
        """Every text of a message, oldest first (as the real service)."""
        shown = [m for log in self._log.values() for m in log if m.archive_id == archive_id]
        return self._versions.get(archive_id, [m.body for m in shown])

    def _remember(self, chat: ChatSummary) -> None:
        """Replace (or add) the roster row of `chat.jid`."""
        if chat.in_roster or chat.is_room:
            self._chats = [chat if c.jid == chat.jid else c for c in self._chats]

    def _skipped(self, peer: str) -> tuple[SkippedDevice, ...]:
        words = {
            TrustLevel.UNDECIDED: ("undecided: review it in the trust manager", "undecided"),
            TrustLevel.DISTRUSTED: ("distrusted", "untrusted"),
        }
        return tuple(
            SkippedDevice(d.bare_jid, d.device_id, *words[d.trust])
            for d in self._devices
            if d.bare_jid == peer and d.active and d.trust in words
        )

    def _sent(
        self,
        peer: str,
        text: str,
        omemo: Namespace | None,
        nick: str | None = None,
        reply_to: str | None = None,
    ) -> ChatMessage:
        """Archive our message and announce it: `MessageSent` (pending), then, unless
        `hold_delivery`, `MessageDelivered`; in a room (`nick`) it has no id until the
        room's reflection stamps one: `MessageSent` again (as the real service)."""
        self._next_id += 1
        message = ChatMessage(
            self._next_id,
            peer,
            True,
            OWN,
            NOW,
            text,
            MessageTrust.VERIFIED if omemo else MessageTrust.UNENCRYPTED,
            omemo,
            1001 if omemo else None,
            nick=nick,
            delivery=Delivery.PENDING,
            reply_to=reply_to,
            message_id=None if nick else f"fake-{self._next_id}",
        )
        self._log.setdefault(peer, []).append(message)
        self.emit(MessageSent(message))
        if not self.hold_delivery:
            self.deliver(message.archive_id)
        return message if nick is None else self._stamp(peer, message.archive_id)

    def _stamp(self, room: str, archive_id: int) -> ChatMessage:
        """The room reflected our message `archive_id`: it has the room's stanza-id now."""
        log = self._log[room]
        index = next(i for i, m in enumerate(log) if m.archive_id == archive_id)
        log[index] = dataclasses.replace(log[index], message_id=f"room-{archive_id}")
        self.emit(MessageSent(log[index]))
        return log[index]

    def receive(self, peer: str, body: str, **changes: object) -> ChatMessage:
        """A message from `peer` (a room: from a member, give `nick` and `sender`) arrives:
        archived, announced, and its roster row counts it unread (as the real service)."""
        message = self.next_message(peer, body, **changes)
        log = self._log.setdefault(peer, [])
        if message.corrects is None:
            log.append(message)
        else:  # a correction (XEP-0308): its message shows the new text, marked edited
            log[:] = [
                dataclasses.replace(m, body=body, edited=True)
                if m.archive_id == message.corrects
                else m
                for m in log
            ]
        self.emit(MessageReceived(message))
        chat = next((c for c in self._chats if c.jid == peer), None)
        if chat is not None:
            chat = dataclasses.replace(chat, unread=chat.unread + 1)
            self._remember(chat)
            self.emit(RosterChanged(chat))
        return message

    def deliver(self, archive_id: int) -> None:
        """The server confirmed our message `archive_id`: it is no longer pending, and
        `MessageDelivered` follows (as the real service's outbox does)."""
        for peer, messages in self._log.items():
            for index, message in enumerate(messages):
                if message.archive_id == archive_id and message.delivery is Delivery.PENDING:
                    messages[index] = dataclasses.replace(message, delivery=Delivery.SENT)
                    self.emit(MessageDelivered(archive_id, peer))
                    return

    def acknowledge(self, archive_id: int, delivery: Delivery) -> None:
        """The contact's receipt (received) or displayed marker (read) for our message
        `archive_id` (issue 17): its state rises, `MessageDelivered` follows."""
        for peer, messages in self._log.items():
            for index, message in enumerate(messages):
                if message.archive_id == archive_id and message.outgoing:
                    messages[index] = dataclasses.replace(message, delivery=delivery)
                    self.emit(MessageDelivered(archive_id, peer, delivery))
                    return

    async def devices(self, bare_jid: str | None = None) -> Sequence[DeviceInfo]:
        if bare_jid is None:
            return sorted(self._devices, key=lambda d: not d.own)
        return [d for d in self._devices if d.bare_jid == bare_jid]

    async def set_trust(self, bare_jid: str, device_id: int, level: TrustLevel) -> None:
        """As the real service: stored, a TRUST_CHANGED security event (stored and
        emitted), and the contact's roster row with its new badge."""
        self._record("set_trust", bare_jid, device_id, level)
        if all((d.bare_jid, d.device_id) != (bare_jid, device_id) for d in self._devices):
            raise KeyError(f"the identity key of device {device_id} of {bare_jid} is not known")
        self._devices = [
            dataclasses.replace(d, trust=level)
            if (d.bare_jid, d.device_id) == (bare_jid, device_id)
            else d
            for d in self._devices
        ]
        detail = f"device {device_id} of {bare_jid} is now {level.value.replace('_', ' ')}"
        event = SecurityEvent(SecurityEventKind.TRUST_CHANGED, bare_jid, device_id, detail, NOW)
        self._security.insert(0, event)
        self.emit(SecurityEventRaised(event))
        chat = next((c for c in self._chats if c.jid == bare_jid), None)
        if chat is not None:
            chat = dataclasses.replace(chat, security=self._unlisted(bare_jid).security)
            self._remember(chat)
            self.emit(RosterChanged(chat))

    async def rebuild_session(self, bare_jid: str, device_id: int) -> None:
        self._record("rebuild_session", bare_jid, device_id)

    async def stale_own_devices(self) -> Sequence[DeviceInfo]:
        """Our other devices silent for longer than delete_stale_after_hours (as the real
        service's preview)."""
        limit = timedelta(hours=self._settings.delete_stale_after_hours)
        return [
            d
            for d in self._devices
            if d.own and not d.this_device and (d.last_seen is None or NOW - d.last_seen > limit)
        ]

    async def remove_own_devices(self, device_ids: Collection[int]) -> None:
        """Our other devices leave the device list (never this one)."""
        self._record("remove_own_devices", tuple(sorted(device_ids)))
        self._devices = [
            d
            for d in self._devices
            if not (d.own and not d.this_device and d.device_id in device_ids)
        ]

    async def own_trust_uri(self) -> str:
        own = [d for d in self._devices if d.own and d.trust is TrustLevel.VERIFIED]
        query = ";".join(f"omemo-sid-{d.device_id}={d.fingerprint}" for d in own)
        return f"xmpp:{OWN}?{query}"

    async def preview_trust_uri(self, uri: str) -> UriPreview:
        jid, pairs = _parse_uri(uri)
        found = []
        for device_id, print_ in pairs:
            known = next(
                (d for d in self._devices if (d.bare_jid, d.device_id) == (jid, device_id)), None
            )
            match = known is not None and known.fingerprint == print_
            found.append(
                UriFingerprint(device_id, print_, match, known.trust if known and match else None)
            )
        return UriPreview(jid, tuple(found))

    async def apply_trust_uri(self, uri: str) -> int:
        self._record("apply_trust_uri", uri)
        preview = await self.preview_trust_uri(uri)
        changed = 0
        for item in preview.fingerprints:
            if item.known and item.current is not TrustLevel.VERIFIED:
                await self.set_trust(preview.bare_jid, item.device_id, TrustLevel.VERIFIED)
                changed += 1
        return changed

    async def search(self, text: str, peer: str | None = None) -> Sequence[SearchHit]:
        self._record("search", text, peer)
        needle = text.lower()
        hits = []
        for chat, messages in self._log.items():
            for message in messages:
                where = message.body.lower().find(needle)
                if needle and where >= 0 and peer in (None, chat):
                    start = max(0, where - 20)
                    snippet = ("…" if start else "") + message.body[start : where + 40]
                    hits.append(SearchHit(message, snippet))
        return hits

    async def security_events(self, limit: int = 200) -> Sequence[SecurityEvent]:
        return self._security[:limit]

    async def settings(self) -> Settings:
        return self._settings

    async def update_setting(self, key: str, value: str) -> Settings:
        self._record("update_setting", key, value)
        self._settings = self._settings.with_value(key, value)
        return self._settings

    def add_room(
        self, room: str, members: Sequence[str], *, without_keys: Sequence[str] = ()
    ) -> None:
        """`room` exists, configured for OMEMO, with `members` (each with a trusted device)
        and the members `without_keys` (no device list published)."""
        self._rooms[room] = tuple(
            MemberReadiness(jid, jid.split("@", maxsplit=1)[0], True, 1, 0, 0) for jid in members
        ) + tuple(
            MemberReadiness(jid, jid.split("@", maxsplit=1)[0], False, 0, 0, 0, NO_LIST)
            for jid in without_keys
        )

    async def join_room(self, room: str, nick: str) -> RoomInfo:
        """As the real service: an open room (`open_rooms`) refuses OMEMO; any other room
        not seen before is created configured for OMEMO, with nobody else in it."""
        self._record("join_room", room, nick)
        self._nicks[room] = nick
        is_open = room in self.open_rooms
        if not is_open:
            self._rooms.setdefault(room, ())
        if all(chat.jid != room for chat in self._chats):
            security = ChatSecurity.NO_OMEMO if is_open else ChatSecurity.UNDECIDED_DEVICES
            self._chats.append(
                ChatSummary(
                    room,
                    room.split("@", maxsplit=1)[0],
                    True,
                    Presence.ONLINE,
                    0,
                    security,
                    None if is_open else Namespace.V2,
                )
            )
        return await self.room_info(room)

    async def leave_room(self, room: str) -> None:
        self._record("leave_room", room)
        self._chats = [c for c in self._chats if c.jid != room or not c.is_room]

    async def send_to_room(
        self, room: str, text: str, *, allow_plaintext: bool = False, allow_partial: bool = False
    ) -> SendReport:
        """Like `send`; in ROOM, members without keys stop it unless partial is allowed."""
        self._record("send_to_room", room, text, allow_plaintext, allow_partial)
        missing = self._room_gate(room, allow_partial)
        chat = next((c for c in self._chats if c.jid == room), None)
        if chat is None:
            raise KeyError(room)
        plaintext = chat.omemo is None
        if plaintext and not (allow_plaintext or chat.security is ChatSecurity.PLAINTEXT_CHOSEN):
            raise SendFailed(
                "The room is not members-only and non-anonymous. Nothing was "
                "sent; choose to send unencrypted to this room explicitly if you "
                "want to.",
                SendReport(None, None),
            )
        if plaintext:
            self._remember(dataclasses.replace(chat, security=ChatSecurity.PLAINTEXT_CHOSEN))
        omemo = None if plaintext else chat.omemo
        message = self._sent(room, text, omemo, nick=self._nicks.get(room, "alice"))
        return SendReport(message.archive_id, omemo, missing)

    def _room_gate(self, room: str, allow_partial: bool) -> tuple[SkippedDevice, ...]:
        """As the real room send: members without keys stop it unless "everyone with keys"
        was chosen (now: remembered); nobody with keys stops it anyway. The skipped members.

        Raises:
            SendFailed: nothing may be sent (`partial_possible` when skipping would help).
        """
        members = self._members if room == ROOM else self._rooms.get(room, ())
        if room in self._rooms and not members and room in {c.jid for c in self._chats}:
            raise SendFailed(
                "the room has no other members to encrypt for; nothing was sent",
                SendReport(None, Namespace.V2),
            )
        missing = tuple(
            SkippedDevice(m.bare_jid, None, f"member skipped, no usable device: {m.last_error}")
            for m in members
            if not m.has_keys
        )
        partial = allow_partial or room in self._partial
        if allow_partial:
            self._partial.add(room)
        if members and len(missing) == len(members):
            raise SendFailed(
                "no member of the room has a trusted device that can receive the message; "
                "nothing was sent",
                SendReport(None, Namespace.V2, missing),
            )
        if missing and not partial:
            raise SendFailed(
                f"{len(missing)} member(s) have no usable device; nothing was sent",
                SendReport(None, Namespace.V2, missing),
                partial_possible=True,
            )
        return missing

    async def set_partial_choice(self, room: str, allowed: bool) -> None:
        self._record("set_partial_choice", room, allowed)
        if allowed:
            self._partial.add(room)
        else:
            self._partial.discard(room)

    async def add_contact(self, bare_jid: str) -> None:
        """The contact joins the roster (once), as `chat_summary` describes it."""
        self._record("add_contact", bare_jid)
        if all(c.jid != bare_jid for c in self._chats):
            summary = await self.chat_summary(bare_jid)
            self._chats.append(
                dataclasses.replace(summary, in_roster=True, subscription=Subscription.PENDING)
            )

    def ask_subscription(self, bare_jid: str, status_text: str = "") -> ChatSummary:
        """`bare_jid` asks to see our presence (issue 17): its row (a new one when it is not
        in the roster) carries the request, as the real service's does."""
        found = [c for c in self._chats if c.jid == bare_jid]
        base = found[0] if found else ChatSummary(
            bare_jid, bare_jid, False, Presence.OFFLINE, 0, ChatSecurity.NO_OMEMO, None,
            subscription=Subscription.NONE, in_roster=False,
        )  # fmt: skip
        row = dataclasses.replace(base, asks_subscription=True, status_text=status_text)
        self._chats = [c for c in self._chats if c.jid != bare_jid] + [row]
        self._events.put_nowait(RosterChanged(row))
        return row

    async def composing(self, chat: str) -> None:
        """Kept in `chat_states` (apart from `calls`: the composer makes many)."""
        self.chat_states.append((chat, "composing"))

    async def chat_active(self, chat: str) -> None:
        """Kept in `chat_states`."""
        self.chat_states.append((chat, "active"))

    async def chat_inactive(self, chat: str) -> None:
        """Kept in `chat_states`."""
        self.chat_states.append((chat, "inactive"))

    async def answer_subscription(self, bare_jid: str, allow: bool, add: bool) -> None:
        """The request is answered: the row loses its mark (and joins the roster with `add`)."""
        self._record("answer_subscription", bare_jid, allow, add)
        rows = [
            dataclasses.replace(c, asks_subscription=False) if c.jid == bare_jid else c
            for c in self._chats
        ]
        self._chats = [c for c in rows if c.jid != bare_jid or c.in_roster]  # as the real one
        if add:
            await self.add_contact(bare_jid)
        for row in self._chats:
            if row.jid == bare_jid:
                self._events.put_nowait(RosterChanged(row))

    async def invite(self, room: str, bare_jid: str) -> bool:
        self._record("invite", room, bare_jid)
        if all(chat.jid != room or not chat.is_room for chat in self._chats):
            raise KeyError(room)
        return room == ROOM

    async def remove_contact(self, bare_jid: str) -> None:
        self._record("remove_contact", bare_jid)
        self._chats = [c for c in self._chats if c.jid != bare_jid or c.is_room]

    async def rename_contact(self, bare_jid: str, name: str) -> None:
        self._record("rename_contact", bare_jid, name)
        found = [c for c in self._chats if c.jid == bare_jid and not c.is_room]
        if not found:
            raise KeyError(f"{bare_jid} is not a contact")
        renamed = dataclasses.replace(found[0], name=" ".join(name.split()) or bare_jid)
        self._chats = [renamed if c is found[0] else c for c in self._chats]
        self._events.put_nowait(RosterChanged(renamed))

    async def room_info(self, room: str) -> RoomInfo:
        if room == ROOM:
            return RoomInfo(
                ROOM, "alice", "Biscuits and key fingerprints", True, None, self._members
            )
        chat = next((c for c in self._chats if c.jid == room and c.is_room), None)
        if chat is None:
            raise KeyError(room)
        nick = self._nicks.get(room, "alice")
        if room in self.open_rooms:
            return RoomInfo(room, nick, "", False, OPEN_ROOM_REFUSAL)
        return RoomInfo(room, nick, "", True, None, self._rooms.get(room, ()))

    async def mark_read(self, peer: str) -> None:
        self._record("mark_read", peer)
        chat = next((c for c in self._chats if c.jid == peer), None)
        if chat is not None:  # as the real service: the row follows
            chat = dataclasses.replace(chat, unread=0)
            self._remember(chat)
            self.emit(RosterChanged(chat))

    async def refresh_device_list(self, bare_jid: str) -> None:
        self._record("refresh_device_list", bare_jid)

    async def account(self) -> AccountInfo:
        this = next(d for d in self._devices if d.this_device)
        others = tuple(d for d in self._devices if d.own and not d.this_device)
        row = self._account
        return AccountInfo(
            OWN,
            this.device_id,
            this.fingerprint,
            self._label,
            row.server_host,
            row.server_port,
            row.allow_plaintext_loopback,
            bool(row.password),
            others,
            certificate_pin=self._certificate_pin,
        )

    async def update_account(self, change: AccountChange) -> AccountInfo:
        """Validated by the real service's rules (`changed_account`, `check_label`,
        `check_pin`)."""
        row = changed_account(self._account, change)
        label = self._label if change.label is None else check_label(change.label)
        pin = self._certificate_pin
        if change.certificate_pin is not None:
            pin = check_pin(change.certificate_pin)
        self._record("update_account", change)
        self._account, self._label, self._certificate_pin = row, label, pin
        return await self.account()


def _parse_uri(uri: str) -> tuple[str, list[tuple[int, str]]]:
    """`xmpp:JID?omemo-sid-N=HEX;…` → (JID, [(N, HEX)…]); ValueError when it is not one."""
    if not uri.startswith("xmpp:") or "?" not in uri:
        raise ValueError("not an xmpp: trust URI (expected xmpp:JID?omemo-sid-N=…)")
    jid, query = uri[5:].split("?", 1)
    pairs = []
    for part in query.replace("&", ";").split(";"):
        key, _, value = part.partition("=")
        if not key.startswith("omemo-sid-") or not key[10:].isdigit() or len(value) != 64:
            raise ValueError(f"not an OMEMO fingerprint parameter: {part[:40]!r}")
        pairs.append((int(key[10:]), value.lower()))
    if not pairs:
        raise ValueError("the URI holds no fingerprints")
    return jid, pairs
