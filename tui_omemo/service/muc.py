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

Incoming groupchat messages go through the shared inbound pipeline with the room policy
(`service/room_inbound.py`); sends go through the shared outbound pipeline as a `RoomSend`
(`service/room_send.py`). This module keeps what is room-only: joining and leaving, bookmarks,
membership and readiness, the per-room choices, and the rejoin after a new stream.

State kept per room in the settings table under `room/<bare_jid>` (`RoomPrefs`): our nick, the
plaintext and partial choices, a forced version and the room archive's catch-up position.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import replace
from typing import Any

from tui_omemo.model import DeviceRef, Namespace, ReplyRef, bare_jid
from tui_omemo.protocol.engine import Engine
from tui_omemo.protocol.errors import ProtocolError
from tui_omemo.protocol.media import carries_key
from tui_omemo.protocol.trust import TrustMode
from tui_omemo.service.api import (
    ChatSecurity,
    ChatSummary,
    MemberReadiness,
    Presence,
    RoomInfo,
    SendFailed,
    SendReport,
)
from tui_omemo.service.corrections import Correction
from tui_omemo.service.outbox import RoomOutbound
from tui_omemo.service.ports import (
    AFFILIATIONS_WITH_KEYS,
    OMEMO_ROOM_CONFIG,
    Bookmark,
    Inbound,
    RoomTransport,
    TransportError,
)
from tui_omemo.service.room_inbound import RoomInbox
from tui_omemo.service.room_send import NO_DEVICE, RoomSend
from tui_omemo.service.rooms import (
    REFUSE_ANONYMOUS,
    REFUSE_OPEN,
    JoinedRoom,
    RoomPrefs,
    member_readiness,
    omemo_refusal,
    room_key,
    room_security,
    send_room_stanza,
)
from tui_omemo.service.session import Session
from tui_omemo.store import InboxItem

log = logging.getLogger(__name__)


class GroupChats:
    """Encrypted group chats over a `RoomClient`, sharing the 1:1 session's engine and lock.

    Args:
        rooms: the XEP-0045 side of the same slixmpp client the transport uses.
        session: the 1:1 pipelines (engine, bundle publishing, empty messages, unread counts)
            and the parts they share (`Session.parts`: the DB thread, the caching directory,
            the settings, the event sink, and the engine lock held around every engine
            operation, so that one operation's state is committed before the next one reads
            it).
    """

    def __init__(self, *, rooms: RoomTransport, session: Session) -> None:
        self._rooms = rooms
        self._session = session
        self._runner = session.parts.runner
        self._directory = session.parts.directory
        self._settings = session.parts.settings
        self._emit = session.parts.emit
        self._lock = session.parts.lock
        self._joined: dict[str, JoinedRoom] = {}
        self._left: set[str] = set()  # rooms left since start: late updates are dropped
        self._worker: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._started = False
        self._inbox = RoomInbox(
            rooms,
            session,
            self._joined,
            self._directory,
            self._runner,
            lambda row, inbound, attempts: self.process(row, inbound, attempts=attempts),
        )
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
            self._worker = asyncio.create_task(self._inbox.run_worker(), name="tui-omemo-groups")
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
        state = JoinedRoom(room, nick, features)
        self._joined[room] = state
        self._left.discard(room)
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
        self._left.add(room)
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

    def own_nick(self, room: str) -> str | None:
        """Our nick in `room`; None when we are not in it."""
        state = self._joined.get(room)
        return None if state is None else state.nick

    def joined_rooms(self) -> list[str]:
        """The rooms we are in."""
        return sorted(self._joined)

    def has_left(self, jid: str) -> bool:
        """Whether `jid` is a room we left since start (and did not join again): an update
        of it that was already on its way must not bring its roster row back."""
        return jid in self._left

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

    async def _summary_version(self, state: JoinedRoom, prefs: RoomPrefs) -> Namespace:
        """The OMEMO version a send would use now (from the cached device lists); OMEMO 2
        when they cannot be fetched. Never None for a room that allows OMEMO: the chat would
        take it for a room without encryption and ask for a plaintext choice."""
        try:
            return await self._choose_version(state, prefs)
        except TransportError:
            return prefs.version or Namespace.V2

    async def _security(self, state: JoinedRoom) -> ChatSecurity:
        """See `rooms.room_security`."""
        return await room_security(await self._readiness(state), state.members, self._runner)

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

    async def _refresh_members(self, state: JoinedRoom) -> None:
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

    async def _learn_devices(self, state: JoinedRoom, jid: str) -> None:
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

    async def _readiness(self, state: JoinedRoom) -> tuple[MemberReadiness, ...]:
        nicks = {
            occupant.real_jid: nick
            for nick, occupant in self._rooms.occupants(state.jid).items()
            if occupant.real_jid
        }
        mode = TrustMode(self._settings().trust_mode)
        return await member_readiness(state, nicks, self._directory, self._runner, mode)

    # --- choices ----------------------------------------------------------------------------

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
        self,
        room: str,
        text: str,
        *,
        allow_plaintext: bool = False,
        allow_partial: bool = False,
        correction: Correction | None = None,
        reply: ReplyRef | None = None,
    ) -> SendReport:
        """Send `text` to a joined room (see the module docstring).

        Args:
            room: the room's bare JID.
            text: the message.
            allow_plaintext: the user chose unencrypted sending; honoured (and remembered)
                only in a room that does not qualify for OMEMO.
            allow_partial: the user chose to skip members without a usable device (and it is
                remembered for the room).
            correction: `text` corrects our earlier message (XEP-0308), encrypted only.
            reply: `text` answers a message (XEP-0461), encrypted only.

        Raises:
            KeyError: the room is not joined.
            SendFailed: nothing was sent; the reason is one sentence, the report lists who
                was skipped and why.
        """
        state = self._joined[bare_jid(room)]
        if (correction is not None or reply is not None) and state.refusal is not None:
            raise SendFailed("a correction or reply is only sent encrypted", SendReport(None, None))
        async with self._session.turns.turn(state.jid):  # `service/send_order.py`
            prefs = await self.prefs(state.jid)
            if state.refusal is not None:
                if not (allow_plaintext or prefs.plaintext) or carries_key(text):  # issue 18
                    raise SendFailed(
                        f"{state.refusal} Nothing was sent; choose to send "
                        "unencrypted to this room explicitly if you want to.",
                        SendReport(None, None),
                    )
                if not prefs.plaintext:
                    await self.set_prefs(state.jid, replace(prefs, plaintext=True))
                return await self._session.outbound.send_plain(
                    state.jid, text, room_nick=state.nick
                )
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
            send = RoomSend(
                state.jid,
                namespace,
                state.nick,
                tuple(sorted(state.members)),
                state.errors,
                prefs.partial,
                correction,
                reply,
            )
        return await self._session.outbound.send(send, text)  # queued before the next turn

    async def _choose_version(self, state: JoinedRoom, prefs: RoomPrefs) -> Namespace:
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
        """Send a stored room message as it was encrypted (the outbox resends through this;
        see `rooms.send_room_stanza`).

        Raises:
            TransportError: the stream is down.
        """
        send_room_stanza(self._rooms, stanza)

    # --- receiving (`service/room_inbound.py`) ---------------------------------------------

    async def drain_inbox(self) -> int:
        """Process the groupchat rows a crash left in the inbox (`RoomInbox.drain_inbox`)."""
        return await self._inbox.drain_inbox()

    def claims(self, inbound: Inbound) -> bool:
        """A result of one of our room archive queries (read by the room client)."""
        return self._inbox.claims(inbound)

    def enqueue(self, inbound: Inbound) -> None:
        """Take a groupchat stanza (sync, on the loop); the worker processes it."""
        self._inbox.enqueue(inbound)

    async def wait_idle(self) -> None:
        """Wait until every queued groupchat stanza is processed (tests, scripts)."""
        await self._inbox.wait_idle()

    async def accept(self, inbound: Inbound) -> None:
        """Check the path, keep the stanza in the inbox, then process it."""
        await self._inbox.accept(inbound)

    async def process(self, inbox_id: int, inbound: Inbound, *, attempts: int) -> None:
        """Decrypt and commit one groupchat inbox row."""
        await self._inbox.process(inbox_id, inbound, attempts=attempts)

    async def retry(self, item: InboxItem, inbound: Inbound) -> None:
        """Process a groupchat row left in the inbox (`Session.drain_inbox` hands them here)."""
        await self._inbox.retry(item, inbound)

    async def catch_up(self, room: str) -> int:
        """Catch up from the room's archive (`RoomInbox.catch_up`)."""
        return await self._inbox.catch_up(room)

    async def prefs(self, room: str) -> RoomPrefs:
        """A room's remembered choices."""
        return await self._inbox.prefs(room)

    async def set_prefs(self, room: str, prefs: RoomPrefs) -> None:
        """Remember a room's choices."""
        await self._inbox.set_prefs(room, prefs)


__all__ = [
    "NO_DEVICE",
    "REFUSE_ANONYMOUS",
    "REFUSE_OPEN",
    "GroupChats",
    "RoomPrefs",
    "omemo_refusal",
    "room_key",
]
