"""`GroupChats`: OMEMO in XEP-0045 rooms, the component `OmemoChatService` delegates to.

The OMEMO gate (OMEMO-WIRE.md §6, MUC row): a room qualifies only when its disco#info says
`muc_nonanonymous` (we can see whose devices to encrypt for) and `muc_membersonly` (the member
list says who may read). Otherwise `RoomInfo.omemo_refusal` says why in one sentence, nothing is
ever encrypted there, and plaintext goes out only by the user's explicit, remembered choice.

Recipients are the real JIDs of the owner, admin and member lists, offline members included,
fetched again before every send (affiliations and occupants change). One `<encrypted>` goes to
the room (type groupchat) with keys for every trusted device of every member and our own other
devices. A member left without any key blocks the send (`SendFailed`, nothing leaves) until the
user chooses "everyone with keys" for the room; the choice is remembered per room and the
skipped members are listed in every `SendReport`.

Incoming groupchat messages take the 1:1 path's shape (DESIGN.md §3.1): inbox first, dedupe,
decrypt on copies under the engine lock shared with `Session`, one unit of work with the state,
the archive row (room and nick filled in) and the inbox deletion. The sender is the occupant's
real JID (from the room's presence; for archived messages whose occupant left, the member whose
device list holds the sending device id). Our own reflection is recognised by its origin-id
(archived when sending) and never decrypted. For OMEMO 2 the SCE `to` must be the room.

State kept per room in the settings table under `room/<bare_jid>` (`RoomPrefs`): our nick, the
plaintext and partial choices, a forced version and the room archive's catch-up position.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tui_omemo.config import Settings
from tui_omemo.events import SecurityEventKind
from tui_omemo.model import DeviceRef, Namespace, TrustLevel, bare_jid
from tui_omemo.protocol.engine import Engine
from tui_omemo.protocol.errors import ProtocolError
from tui_omemo.protocol.trust import TrustMode, effective_decision
from tui_omemo.service.api import (
    ChatSecurity,
    ChatSummary,
    MemberReadiness,
    Presence,
    RoomInfo,
    SendFailed,
    SendReport,
    ServiceEvent,
)
from tui_omemo.service.conversation import RoomPolicy
from tui_omemo.service.directory import CachingDirectory
from tui_omemo.service.history import finish_catch_up
from tui_omemo.service.inbound import for_device, has_content
from tui_omemo.service.outbound import NO_DEVICE, RoomSend
from tui_omemo.service.outbox import RoomOutbound
from tui_omemo.service.runner import DbRunner
from tui_omemo.service.session import Session
from tui_omemo.service.transport import Inbound, TransportError, Wrapper
from tui_omemo.service.trust import PendingEvent
from tui_omemo.store import InboxItem, InboxSource, UnitOfWork
from tui_omemo.xmpp.bookmarks import Bookmark
from tui_omemo.xmpp.mam import ArchivedMessage
from tui_omemo.xmpp.muc import OMEMO_ROOM_CONFIG
from tui_omemo.xmpp.rooms import AFFILIATIONS_WITH_KEYS, RoomClient, RoomFeatures

log = logging.getLogger(__name__)

PAGE_SIZE = 25
INBOX_SCAN = 1000
FIRST_CATCH_UP = 50
"""Messages fetched from a room's archive when we have no position there yet."""

REFUSE_ANONYMOUS = (
    "OMEMO is off in this room because it is not non-anonymous: members "
    "cannot see each other's real JIDs, so there is no way to know whose "
    "devices to encrypt for."
)
REFUSE_OPEN = (
    "OMEMO is off in this room because it is not members-only: anyone may enter, "
    "so no member list says who may read the messages."
)


@dataclass(frozen=True, slots=True)
class RoomPrefs:
    """One room's remembered choices and position, stored under `room/<bare_jid>`.

    Attributes:
        nick: our nickname there.
        plaintext: the user chose to send unencrypted (only used where OMEMO is refused).
        partial: the user chose to send to "everyone with keys" (members without a usable
            device are skipped and listed).
        version: a forced OMEMO version, or None for automatic.
        archive_after: the room archive id after which the next catch-up starts.
    """

    nick: str | None = None
    plaintext: bool = False
    partial: bool = False
    version: Namespace | None = None
    archive_after: str | None = None

    def to_json(self) -> dict[str, object]:
        """The stored form."""
        return {
            "nick": self.nick,
            "plaintext": self.plaintext,
            "partial": self.partial,
            "version": None if self.version is None else self.version.value,
            "archive_after": self.archive_after,
        }

    @classmethod
    def from_json(cls, value: object) -> RoomPrefs:
        """Read the stored form (anything unreadable gives the defaults)."""
        if not isinstance(value, dict):
            return cls()
        version = value.get("version")
        nick, after = value.get("nick"), value.get("archive_after")
        return cls(
            nick if isinstance(nick, str) else None,
            bool(value.get("plaintext")),
            bool(value.get("partial")),
            Namespace(version) if version in {n.value for n in Namespace} else None,
            after if isinstance(after, str) else None,
        )


def room_key(room: str) -> str:
    """The settings key of a room's `RoomPrefs`."""
    return f"room/{bare_jid(room)}"


def omemo_refusal(features: RoomFeatures) -> str | None:
    """Why a room does not qualify for OMEMO, in one sentence; None when it does."""
    if not features.non_anonymous:
        return REFUSE_ANONYMOUS
    if not features.members_only:
        return REFUSE_OPEN
    return None


@dataclass
class _Room:
    """What we know of one joined room."""

    jid: str
    nick: str
    features: RoomFeatures
    members: dict[str, str] = field(default_factory=dict)  # real bare JID → affiliation
    errors: dict[str, str] = field(default_factory=dict)  # real bare JID → last error

    @property
    def refusal(self) -> str | None:
        return omemo_refusal(self.features)


class GroupChats:
    """Encrypted group chats over a `RoomClient`, sharing the 1:1 session's engine and lock.

    Args:
        rooms: the XEP-0045 side of the same slixmpp client the transport uses.
        session: the 1:1 pipelines (engine, bundle publishing, empty messages, unread counts).
        runner: the DB thread.
        directory: the engine's caching directory (device lists, bundles).
        settings: returns the current settings.
        emit: where service events go.
        lock: the engine lock `Session` holds around every engine operation (`Session.lock`):
            one operation's state is committed before the next one reads it.
    """

    def __init__(
        self,
        *,
        rooms: RoomClient,
        session: Session,
        runner: DbRunner,
        directory: CachingDirectory,
        settings: Callable[[], Settings],
        emit: Callable[[ServiceEvent], None],
        lock: asyncio.Lock,
    ) -> None:
        self._rooms = rooms
        self._session = session
        self._runner = runner
        self._directory = directory
        self._settings = settings
        self._emit = emit
        self._lock = lock
        self._joined: dict[str, _Room] = {}
        self._queue: asyncio.Queue[Inbound] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._started = False
        self._policy = RoomPolicy(session.engine, self)
        rooms.add_listener(self._room_changed)

    @property
    def _engine(self) -> Engine:
        return self._session.engine

    @property
    def own(self) -> str:
        """Our bare JID."""
        return self._engine.own_bare_jid

    # --- lifetime ---------------------------------------------------------------------------

    async def start(self) -> list[RoomInfo]:
        """Start the inbound worker and join every autojoin bookmark (catching up each room).
        `OmemoChatService.start` calls this; a later call only reports the joined rooms.

        Returns:
            The rooms joined; a room that refuses us is skipped (logged).
        """
        if self._started:
            return [await self.room_info(room) for room in self.joined_rooms()]
        self._started = True
        if self._worker is None:
            self._worker = asyncio.create_task(self._run_worker(), name="tui-omemo-groups")
        joined = []
        for bookmark in await self._autojoin():
            try:
                joined.append(
                    await self.join_room(
                        bookmark.room, bookmark.nick or self._default_nick(), bookmark=False
                    )
                )
            except TransportError as error:
                log.warning("rejoining %s failed: %s", bookmark.room, error)
        await self.drain_inbox()
        return joined

    async def drain_inbox(self) -> int:
        """Process the groupchat rows a crash left in the inbox (after the rooms are joined,
        so occupants can be mapped to real JIDs). `Session.drain_inbox` must leave those rows
        alone. Rows of rooms we are not in stay for a later start.

        Returns:
            How many rows were processed.
        """
        items: list[InboxItem] = await self._runner.read(lambda uow: uow.inbox.pending(INBOX_SCAN))
        done = 0
        for item in items:
            try:
                inbound = Inbound.from_bytes(item.stanza)
            except (ValueError, KeyError, TypeError):
                continue  # Session.drain_inbox deletes unreadable rows
            if inbound.message_type == "groupchat" and bare_jid(inbound.sender) in self._joined:
                try:
                    await self.retry(item, inbound)
                except Exception as error:  # left in the inbox for the next start
                    log.warning("a groupchat inbox row stays for later: %s", type(error).__name__)
                    continue
                done += 1
        return done

    async def _autojoin(self) -> list[Bookmark]:
        try:
            return [b for b in await self._rooms.bookmarks() if b.autojoin]
        except TransportError:
            return []

    def _default_nick(self) -> str:
        return self.own.partition("@")[0]

    async def close(self) -> None:
        """Stop the worker and the member refreshes in flight (the rooms are left when the
        stream closes). Safe to call twice."""
        tasks = [*self._background, *([self._worker] if self._worker else [])]
        self._worker = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def enqueue(self, inbound: Inbound) -> None:
        """Take a groupchat stanza (sync, on the loop); the worker processes it."""
        self._queue.put_nowait(inbound)

    async def _run_worker(self) -> None:
        while True:
            inbound = await self._queue.get()
            try:
                await self.accept(inbound)
            except Exception:  # one bad stanza must not stop the pipeline
                log.exception("processing a groupchat stanza failed")
            finally:
                self._queue.task_done()

    async def wait_idle(self) -> None:
        """Wait until every queued groupchat stanza is processed (tests, scripts)."""
        await self._queue.join()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _room_changed(self, room: str) -> None:
        """Follow occupant and affiliation changes: refetch the member lists when an occupant
        is affiliated differently from what we know, or someone absent changed (every send
        refetches them anyway)."""
        state = self._joined.get(room)
        if state is None or not self._rooms.joined(room):
            return
        seen = {
            occupant.real_jid: occupant.affiliation
            for occupant in self._rooms.occupants(room).values()
            if occupant.real_jid and occupant.real_jid != self.own
        }
        stale = any(
            state.members.get(jid)
            != (affiliation if affiliation in AFFILIATIONS_WITH_KEYS else None)
            for jid, affiliation in seen.items()
        )
        if stale or self._rooms.affiliations_changed(room):
            self._spawn(self._refresh_quietly(room))

    async def _refresh_quietly(self, room: str) -> None:
        with contextlib.suppress(TransportError, ProtocolError):
            await self._refresh_members(self._joined[room])

    # --- joining, leaving, readiness --------------------------------------------------------

    async def join_room(self, room: str, nick: str, *, bookmark: bool = True) -> RoomInfo:
        """Join `room` as `nick`, read its OMEMO gate, learn its members' devices, catch up
        from its archive, and (with `bookmark`) bookmark it for rejoining on connect. A room
        that did not exist yet is configured for OMEMO (members-only, non-anonymous).

        Raises:
            TransportError: the room refused us or did not answer.
        """
        room = bare_jid(room)
        own = await self._rooms.join(room, nick, configure_new=OMEMO_ROOM_CONFIG)
        return await self._entered(room, own.nick, bookmark=bookmark)

    async def create_room(
        self, room: str, nick: str, members: Sequence[str], *, config: dict[str, str] | None = None
    ) -> RoomInfo:
        """Create (or enter) `room`, configured for OMEMO unless `config` says otherwise,
        make `members` its members, and continue as `join_room`.

        Raises:
            TransportError: the room refused us, the configuration or a membership.
        """
        room = bare_jid(room)
        own = await self._rooms.join(room, nick, configure_new=config or OMEMO_ROOM_CONFIG)
        for member in members:
            await self._rooms.grant_membership(room, member)
        return await self._entered(room, own.nick, bookmark=True)

    async def _entered(self, room: str, nick: str, *, bookmark: bool) -> RoomInfo:
        """After joining: the gate, the choices, the bookmark, the members, the catch-up."""
        features = await self._rooms.features(room)
        state = _Room(room, nick, features)
        self._joined[room] = state
        prefs = await self.prefs(room)
        await self.set_prefs(room, replace(prefs, nick=nick))
        if bookmark:
            with contextlib.suppress(TransportError):
                await self._rooms.add_bookmark(Bookmark(room, nick, True))
        with contextlib.suppress(TransportError):
            await self._refresh_members(state)
        with contextlib.suppress(TransportError):
            await self.catch_up(room)
        return await self.room_info(room)

    async def leave_room(self, room: str) -> None:
        """Leave `room` and drop its bookmark (its archive and choices stay)."""
        room = bare_jid(room)
        self._rooms.leave(room)
        self._joined.pop(room, None)
        with contextlib.suppress(TransportError):
            await self._rooms.remove_bookmark(room)

    async def invite(self, room: str, contact: str) -> bool:
        """Invite `contact` into a joined room (XEP-0249); when we are its owner or admin,
        make them a member first, so that a members-only room lets them in and they get
        message keys. True when membership was granted.

        Raises:
            KeyError: the room is not joined.
            TransportError: the room refused the membership.
        """
        state = self._joined[bare_jid(room)]
        granted = self._rooms.own_affiliation(state.jid) in ("owner", "admin")
        if granted:
            await self._rooms.grant_membership(state.jid, contact)
            with contextlib.suppress(TransportError):
                await self._refresh_members(state)
        self._rooms.invite(state.jid, contact)
        return granted

    def joined_rooms(self) -> list[str]:
        """The rooms we are in."""
        return sorted(self._joined)

    async def summaries(self) -> list[ChatSummary]:
        """One roster row per joined room (for `ChatService.chats`): unread count and a
        badge from the gate, the remembered plaintext choice and the members' trust."""
        return [await self.summary(room) for room in self.joined_rooms()]

    async def summary(self, room: str) -> ChatSummary:
        """The roster row of one joined room (see `summaries`).

        Raises:
            KeyError: the room is not joined.
        """
        state = self._joined[bare_jid(room)]
        prefs = await self.prefs(state.jid)
        if state.refusal is not None:
            security = ChatSecurity.PLAINTEXT_CHOSEN if prefs.plaintext else ChatSecurity.NO_OMEMO
        else:
            security = await self._security(state)
        return ChatSummary(
            state.jid,
            state.features.name or state.jid,
            True,
            Presence.ONLINE,
            self._session.unread.get(state.jid, 0),
            security,
            None if state.refusal else await self._summary_version(state, prefs),
        )

    async def _summary_version(self, state: _Room, prefs: RoomPrefs) -> Namespace:
        """The OMEMO version a send would use now (from the cached device lists); OMEMO 2
        when they cannot be fetched. Never None for a room that allows OMEMO: the chat would
        take it for a room without encryption and ask for a plaintext choice."""
        try:
            return await self._choose_version(state, prefs)
        except TransportError:
            return prefs.version or Namespace.V2

    async def _security(self, state: _Room) -> ChatSecurity:
        """Nobody else here, then undecided (or keyless) members, then blind trust, else all
        verified."""
        readiness = await self._readiness(state)
        if not readiness:
            return ChatSecurity.ALONE
        if any(m.undecided or not m.trusted for m in readiness):
            return ChatSecurity.UNDECIDED_DEVICES
        for jid in state.members:
            levels = await self._runner.read(_trust_levels(jid))
            if TrustLevel.BLINDLY_TRUSTED in levels.values():
                return ChatSecurity.SOME_BLIND
        return ChatSecurity.ALL_VERIFIED

    def members(self, room: str) -> dict[str, str]:
        """A joined room's members (real bare JID → owner/admin/member), ourselves excluded,
        as last fetched.

        Raises:
            KeyError: the room is not joined.
        """
        return dict(self._joined[bare_jid(room)].members)

    def set_subject(self, room: str, subject: str) -> None:
        """Ask the room to change its subject (the new one arrives as a room event).

        Raises:
            KeyError: the room is not joined.
        """
        self._rooms.set_subject(self._joined[bare_jid(room)].jid, subject)

    async def reconnected(self) -> None:
        """After a new stream: join the rooms we were in again and catch up from their
        archives (a room that refuses us now is dropped)."""
        for room, state in sorted(self._joined.items()):
            try:
                own = await self._rooms.join(room, state.nick)
                await self._entered(room, own.nick, bookmark=False)
            except TransportError as error:
                log.warning("rejoining %s failed: %s", room, error)
                self._joined.pop(room, None)

    async def room_info(self, room: str) -> RoomInfo:
        """A joined room's gate and member readiness.

        Raises:
            KeyError: the room is not joined.
        """
        state = self._joined[bare_jid(room)]
        members = await self._readiness(state)
        return RoomInfo(
            state.jid,
            state.nick,
            self._rooms.subject(state.jid),
            state.refusal is None,
            state.refusal,
            members,
        )

    async def _refresh_members(self, state: _Room) -> None:
        """Fetch the owner/admin/member lists (plus affiliated occupants) and learn every
        member's devices and identity keys (BTBV applies to devices seen first). A list
        that cannot be read (the stream is down) keeps the members we knew with that
        affiliation: an outage must not empty the room (a send then waits in the outbox)."""
        members: dict[str, str] = {}
        for affiliation in AFFILIATIONS_WITH_KEYS:
            try:
                for jid in await self._rooms.affiliated(state.jid, affiliation):
                    members.setdefault(jid, affiliation)
            except TransportError as error:
                log.info("%s", error)
                members |= {
                    jid: known
                    for jid, known in state.members.items()
                    if known == affiliation and jid not in members
                }
        for occupant in self._rooms.occupants(state.jid).values():
            if occupant.real_jid and occupant.affiliation in AFFILIATIONS_WITH_KEYS:
                members.setdefault(occupant.real_jid, occupant.affiliation)
        members.pop(self.own, None)
        state.members = members
        if state.refusal is None:
            for jid in sorted(members):
                await self._learn_devices(state, jid)

    async def _learn_devices(self, state: _Room, jid: str) -> None:
        mode = TrustMode(self._settings().trust_mode)
        error = None
        for namespace in Namespace:
            try:
                device_list = await self._directory.fetch_device_list(namespace, jid)
            except TransportError as failure:
                error = f"device list unavailable: {failure}"
                continue
            known = await self._runner.read(
                lambda uow: {record.device_id for record in uow.trust.identities(jid)}
            )
            for device_id in sorted(device_list.device_ids - known):
                error = (
                    await self._session.learn_identity(namespace, DeviceRef(jid, device_id), mode)
                    or error
                )
        if error is None:
            state.errors.pop(jid, None)
        else:
            state.errors[jid] = error

    async def _readiness(self, state: _Room) -> tuple[MemberReadiness, ...]:
        mode = TrustMode(self._settings().trust_mode)
        nicks = {
            occupant.real_jid: nick
            for nick, occupant in self._rooms.occupants(state.jid).items()
            if occupant.real_jid
        }
        rows = []
        for jid in sorted(state.members):
            listed: set[int] = set()
            for namespace in Namespace:
                with contextlib.suppress(TransportError):
                    listed |= (await self._directory.fetch_device_list(namespace, jid)).device_ids
            levels = await self._runner.read(_trust_levels(jid))
            counts = _count(levels, listed, mode)
            error = state.errors.get(jid)
            if not listed and error is None:
                error = "publishes no OMEMO device"
            has_keys = any(device_id in levels for device_id in listed)
            rows.append(MemberReadiness(jid, nicks.get(jid), has_keys, *counts, last_error=error))
        return tuple(rows)

    # --- choices ----------------------------------------------------------------------------

    async def prefs(self, room: str) -> RoomPrefs:
        """A room's remembered choices."""
        return await self._runner.read(
            lambda uow: RoomPrefs.from_json(uow.settings.get(room_key(room)))
        )

    async def set_prefs(self, room: str, prefs: RoomPrefs) -> None:
        """Remember a room's choices."""
        await self._runner.write(lambda uow: uow.settings.set(room_key(room), prefs.to_json()))

    async def set_partial_choice(self, room: str, allowed: bool) -> None:
        """Remember whether sends to `room` may skip members without a usable device."""
        prefs = await self.prefs(room)
        await self.set_prefs(room, replace(prefs, partial=allowed))

    async def set_room_version(self, room: str, version: Namespace | None) -> None:
        """Force an OMEMO version for one room (None: automatic)."""
        prefs = await self.prefs(room)
        await self.set_prefs(room, replace(prefs, version=version))

    # --- sending ----------------------------------------------------------------------------

    async def send_to_room(
        self, room: str, text: str, *, allow_plaintext: bool = False, allow_partial: bool = False
    ) -> SendReport:
        """Send `text` to a joined room (see the module docstring).

        Args:
            room: the room's bare JID.
            text: the message.
            allow_plaintext: the user chose unencrypted sending; honoured (and remembered)
                only in a room that does not qualify for OMEMO.
            allow_partial: the user chose to skip members without a usable device (and it is
                remembered for the room).

        Raises:
            KeyError: the room is not joined.
            SendFailed: nothing was sent; the reason is one sentence, the report lists who
                was skipped and why.
        """
        state = self._joined[bare_jid(room)]
        prefs = await self.prefs(state.jid)
        if state.refusal is not None:
            if not (allow_plaintext or prefs.plaintext):
                raise SendFailed(
                    f"{state.refusal} Nothing was sent; choose to send "
                    "unencrypted to this room explicitly if you want to.",
                    SendReport(None, None),
                )
            if not prefs.plaintext:
                await self.set_prefs(state.jid, replace(prefs, plaintext=True))
            return await self._session.outbound.send_plain(state.jid, text, room_nick=state.nick)
        if allow_partial and not prefs.partial:
            prefs = replace(prefs, partial=True)
            await self.set_prefs(state.jid, prefs)
        try:
            await self._refresh_members(state)
            namespace = await self._choose_version(state, prefs)
        except TransportError as error:
            raise SendFailed(
                f"could not fetch the room's members or their devices: {error}",
                SendReport(None, None),
            ) from error
        members = tuple(sorted(state.members))
        send = RoomSend(state.jid, namespace, state.nick, members, state.errors, prefs.partial)
        return await self._session.outbound.send(send, text)

    async def _choose_version(self, state: _Room, prefs: RoomPrefs) -> Namespace:
        """OMEMO 2 when every member with a device has an OMEMO 2 device, else 0.3; a
        per-room choice wins."""
        if prefs.version is not None:
            return prefs.version
        for jid in state.members:
            v2 = await self._directory.fetch_device_list(Namespace.V2, jid)
            legacy = await self._directory.fetch_device_list(Namespace.LEGACY, jid)
            if legacy.device_ids and not v2.device_ids:
                return Namespace.LEGACY
        return Namespace.V2

    def send_stanza(self, stanza: RoomOutbound) -> None:
        """Send a stored room message as it was encrypted (the outbox resends through this).

        Raises:
            TransportError: the stream is down.
        """
        if stanza.encrypted is None:
            self._rooms.send_plaintext(stanza.room, stanza.body or "", stanza.message_id)
        else:
            self._rooms.send_encrypted(
                stanza.room, stanza.encrypted, stanza.message_id, stanza.body
            )

    # --- receiving (the inbound pipeline, room policy) -----------------------------------------

    def claims(self, inbound: Inbound) -> bool:
        """A result of one of our room archive queries (`RoomClient` reads those itself; the
        transport does not parse them)."""
        return inbound.wrapper is Wrapper.MAM and self._rooms.archive_query_open(
            inbound.mam_query_id or ""
        )

    async def accept(self, inbound: Inbound) -> None:
        """Check the path, keep the stanza in the inbox, then process it."""
        room = bare_jid(inbound.sender)
        if inbound.wrapper is not Wrapper.NONE:
            if inbound.wrapper is Wrapper.MAM:
                await self._session.inbound.security_event(
                    PendingEvent(
                        SecurityEventKind.DECRYPTION_FAILED,
                        room,
                        None,
                        "rejected a room archive result for a query we never opened",
                    )
                )
            return  # carbons of groupchat messages are not ours to take
        if room not in self._joined:
            return
        await self._keep_and_process(inbound)

    async def _keep_and_process(self, inbound: Inbound) -> None:
        inbound = for_device(inbound, self._engine.device_id)
        if not has_content(inbound):
            return
        inbox_id = await self._session.inbound.store(inbound)
        await self.process(inbox_id, inbound, attempts=0)

    async def process(self, inbox_id: int, inbound: Inbound, *, attempts: int) -> None:
        """Name the sender of one groupchat inbox row, then decrypt and commit it through the
        inbound pipeline (a row whose sender nobody can name is dropped, with an event)."""
        pipeline = self._session.inbound
        routing = await self._policy.route(inbound)
        if isinstance(routing, PendingEvent):
            await pipeline.unroutable(inbox_id, routing)
            return
        await pipeline.process_all(
            [pipeline.item(self._policy, inbox_id, inbound, attempts, routing)]
        )

    async def sender(self, room: str, nick: str, inbound: Inbound) -> str | None:
        """The real bare JID behind `room/nick`, or None when nobody can be named: from the
        room's presence, else (an archived message whose occupant left) the one member whose
        device list holds the sending device id."""
        real = self._rooms.real_jid(room, nick)
        if real is not None:
            return real
        state = self._joined.get(room)
        if state is not None and nick == state.nick:
            return self.own
        element = inbound.encrypted
        if element is None or state is None:
            return None
        owners = []
        for jid in sorted({*state.members, self.own}):
            with contextlib.suppress(TransportError):
                listed = await self._directory.fetch_device_list(element.namespace, jid)
                if element.sender_device_id in listed.device_ids:
                    owners.append(jid)
        return owners[0] if len(owners) == 1 else None

    def encrypted_room(self, room: str) -> bool:
        """Whether `room` is joined and qualifies for OMEMO."""
        state = self._joined.get(room)
        return state is not None and state.refusal is None

    def advance_room(self, uow: UnitOfWork, room: str, stanza_id: str) -> None:
        """Store the room archive position after `stanza_id` (inside the unit of work)."""
        key = room_key(room)
        prefs = RoomPrefs.from_json(uow.settings.get(key))
        uow.settings.set(key, replace(prefs, archive_after=stanza_id).to_json())

    async def retry(self, item: InboxItem, inbound: Inbound) -> None:
        """Process a groupchat row left in the inbox by a crash (`Session.drain_inbox` hands
        rows whose `message_type` is groupchat here). A row of a room we have not joined
        (yet) stays: without the room's occupants its sender cannot be named; `start`
        drains such rows again once the bookmarked rooms are joined."""
        if bare_jid(inbound.sender) not in self._joined:
            return
        await self.process(item.id, inbound, attempts=item.attempts + 1)

    # --- room archive (MUC MAM) ---------------------------------------------------------------

    async def catch_up(self, room: str) -> int:
        """Fetch what the room archived since our position (the newest `FIRST_CATCH_UP`
        messages the first time) through the ordinary inbound path.

        Returns:
            How many archived messages were processed.

        Raises:
            TransportError: the archive could not be queried.
        """
        room = bare_jid(room)
        prefs = await self.prefs(room)
        after, done = prefs.archive_after, 0
        engine = self._engine
        own_mode = not engine.catching_up
        if own_mode:
            engine.begin_catch_up()
        try:
            while True:
                page, complete, last = await self._archive_page(room, after)
                for inbound in page:
                    await self._keep_and_process(inbound)
                    done += 1
                if last is not None and last != after:
                    after = last
                    current = await self.prefs(room)
                    await self.set_prefs(room, replace(current, archive_after=after))
                if complete or not page or prefs.archive_after is None:
                    break
        finally:
            if own_mode:
                await finish_catch_up(self._session, self._runner)
        return done

    async def _archive_page(
        self, room: str, after: str | None
    ) -> tuple[list[Inbound], bool, str | None]:
        page = await self._rooms.query_archive(
            room,
            after=after,
            max_results=PAGE_SIZE if after is not None else FIRST_CATCH_UP,
            last_page=after is None,
        )
        inbounds = [_archived_inbound(archived, room, self.own) for archived in page.messages]
        return inbounds, page.complete, page.last


def _archived_inbound(archived: ArchivedMessage, room: str, own: str) -> Inbound:
    """A room archive result as the inbox keeps it."""
    message = archived.message
    stamp = message.timestamp
    return Inbound(
        source=InboxSource.MAM,
        sender=message.sender,
        recipient=message.recipient or own,
        message_type=message.message_type,
        message_id=message.message_id,
        origin_id=message.origin_id,
        stanza_id=archived.archive_id,
        body=message.body,
        encrypted=message.encrypted,
        timestamp_ms=None if stamp is None else int(stamp.timestamp() * 1000),
        wrapper=Wrapper.MAM,
        wrapper_from=room,
        solicited=True,
    )


def _count(
    levels: dict[int, TrustLevel], listed: set[int], mode: TrustMode
) -> tuple[int, int, int]:
    """(trusted, undecided, distrusted) among the listed devices whose identity we know."""
    trusted = undecided = distrusted = 0
    for device_id in listed:
        level = levels.get(device_id)
        if level is None:
            continue
        if effective_decision(level, mode).may_receive_keys:
            trusted += 1
        elif level is TrustLevel.DISTRUSTED:
            distrusted += 1
        else:
            undecided += 1
    return trusted, undecided, distrusted


def _trust_levels(jid: str) -> Callable[[UnitOfWork], dict[int, TrustLevel]]:
    """A read of the newest stored trust level per device id of `jid`."""

    def read(uow: UnitOfWork) -> dict[int, TrustLevel]:
        records = sorted(uow.trust.identities(jid), key=lambda record: record.first_seen)
        return {record.device_id: record.trust for record in records}

    return read


__all__ = ["NO_DEVICE", "GroupChats", "RoomPrefs", "omemo_refusal", "room_key"]
