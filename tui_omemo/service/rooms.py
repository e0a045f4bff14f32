"""Room-only values and reads of the rooms module (`service/muc.py`): the OMEMO gate, a room's
remembered choices (`RoomPrefs`), what we know of a joined room (`JoinedRoom`), the member
readiness and the translation of room archive results into inbox items.

The OMEMO gate (OMEMO-WIRE.md §6, MUC row): a room qualifies only when its disco#info says
`muc_nonanonymous` (we can see whose devices to encrypt for) and `muc_membersonly` (the member
list says who may read). Otherwise `omemo_refusal` says why in one sentence.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from tui_omemo.model import Namespace, TrustLevel, bare_jid
from tui_omemo.protocol.trust import TrustMode, effective_decision
from tui_omemo.service.api import ChatSecurity, MemberReadiness
from tui_omemo.service.directory import CachingDirectory
from tui_omemo.service.outbox import RoomOutbound
from tui_omemo.service.ports import RoomFeatures, RoomTransport, TransportError
from tui_omemo.service.runner import DbRunner
from tui_omemo.store import UnitOfWork

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
class JoinedRoom:
    """What we know of one joined room."""

    jid: str
    nick: str
    features: RoomFeatures
    members: dict[str, str] = field(default_factory=dict)  # real bare JID → affiliation
    errors: dict[str, str] = field(default_factory=dict)  # real bare JID → last error

    @property
    def refusal(self) -> str | None:
        return omemo_refusal(self.features)


def count_devices(
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


def trust_levels(jid: str) -> Callable[[UnitOfWork], dict[int, TrustLevel]]:
    """A read of the newest stored trust level per device id of `jid`."""

    def read(uow: UnitOfWork) -> dict[int, TrustLevel]:
        records = sorted(uow.trust.identities(jid), key=lambda record: record.first_seen)
        return {record.device_id: record.trust for record in records}

    return read


async def member_readiness(
    state: JoinedRoom,
    nicks: Mapping[str, str],
    directory: CachingDirectory,
    runner: DbRunner,
    mode: TrustMode,
) -> tuple[MemberReadiness, ...]:
    """Per member of a joined room: its nick, whether we know keys of its listed devices,
    how many are trusted, undecided and distrusted, and its last error."""
    rows = []
    for jid in sorted(state.members):
        listed: set[int] = set()
        for namespace in Namespace:
            with contextlib.suppress(TransportError):
                listed |= (await directory.fetch_device_list(namespace, jid)).device_ids
        levels = await runner.read(trust_levels(jid))
        counts = count_devices(levels, listed, mode)
        error = state.errors.get(jid)
        if not listed and error is None:
            error = "publishes no OMEMO device"
        has_keys = any(device_id in levels for device_id in listed)
        rows.append(MemberReadiness(jid, nicks.get(jid), has_keys, *counts, last_error=error))
    return tuple(rows)


async def room_security(
    readiness: tuple[MemberReadiness, ...], members: Iterable[str], runner: DbRunner
) -> ChatSecurity:
    """Nobody else here, then undecided (or keyless) members, then a member whose known
    devices are all distrusted (NO_TRUSTED_DEVICE: it cannot read the room), then blind trust,
    else all verified (every device that receives is verified)."""
    if not readiness:
        return ChatSecurity.ALONE
    if any(m.undecided or not m.has_keys for m in readiness):
        return ChatSecurity.UNDECIDED_DEVICES
    if any(not m.trusted for m in readiness):  # has keys, none undecided: all distrusted
        return ChatSecurity.NO_TRUSTED_DEVICE
    for jid in members:
        levels = await runner.read(trust_levels(jid))
        if TrustLevel.BLINDLY_TRUSTED in levels.values():
            return ChatSecurity.SOME_BLIND
    return ChatSecurity.ALL_VERIFIED


def send_room_stanza(rooms: RoomTransport, stanza: RoomOutbound) -> None:
    """Send a stored room message as it was encrypted, with the chat state it carries now.

    Raises:
        TransportError: the stream is down.
    """
    room, message_id, state = stanza.room, stanza.message_id, stanza.chat_state
    if stanza.encrypted is None:
        rooms.send_plaintext(room, stanza.body or "", message_id, state)
        return
    rooms.send_encrypted(
        room,
        stanza.encrypted,
        message_id,
        stanza.body,
        replaces=stanza.replaces,
        reply=stanza.reply,
        chat_state=state,
    )
