"""XEP-0308 last message correction in the archive, the same for both directions and for 1:1
chats and rooms (issue #17).

A correction is archived as a row of its own (flag `replaces`: the wire id it names; `corrects`:
the archive id of the message it corrected), so every version stays in the archive and the
outbox, de-duplication and delivery marks work as for any message. In the same unit of work the
corrected message is rewritten: its body becomes the newest text, `edited` marks it, `original`
keeps its first text and `corrections` lists the archive ids of the later versions. Chat pages
show only the corrected message (`Archive.page` leaves correction rows out).

A correction is accepted only for a message of the same conversation written by the same bare
JID (in a room: the same occupant real JID, which is the routing's sender). A correction of a
message that does not exist, or that someone else wrote, is refused: it is archived as a
message of its own (nothing is lost), flagged with why, and raises a security event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from tui_omemo.events import SecurityEventKind
from tui_omemo.service.trust import PendingEvent
from tui_omemo.store import ArchivedMessage, NewMessage, UnitOfWork
from tui_omemo.store.archive import CORRECTS_FLAG

REPLACES_FLAG = "replaces"
"""The wire id a correction names (shown by `listen --json` as "replaces")."""
EDITED_FLAG = "edited"
ORIGINAL_FLAG = "original"
CORRECTIONS_FLAG = "corrections"
REFUSED_FLAG = "refused_correction"
"""Why a correction was not applied (it is then shown as a message of its own)."""


@dataclass(frozen=True, slots=True)
class Correction:
    """What one of our sends corrects: the wire id of our earlier message (its stanza id and
    origin-id) and its archive id."""

    replaces: str
    original: int


def correction_flags(correction: Correction | None) -> dict[str, object]:
    """The flags of a correction's row (none for an ordinary message)."""
    if correction is None:
        return {}
    return {REPLACES_FLAG: correction.replaces, CORRECTS_FLAG: correction.original}


def replaced(correction: Correction | None) -> str | None:
    """The wire id a send corrects, or None for an ordinary message."""
    return None if correction is None else correction.replaces


def correcting(
    uow: UnitOfWork, message: NewMessage, replaces: str
) -> tuple[NewMessage, ArchivedMessage | None, PendingEvent | None]:
    """Decide a correction before it is archived.

    Returns:
        The row to archive (flagged as a correction, or as a refused one), the message it
        corrects (None when refused) and the security event of a refusal.
    """
    original = uow.archive.original(message.peer, replaces)
    flags = {**message.flags, REPLACES_FLAG: replaces}
    reason: str | None = None
    if original is None:
        reason = "a correction of a message that does not exist"
    elif original.sender_bare_jid != message.sender_bare_jid:
        reason = f"a correction of a message written by {original.sender_bare_jid}"
    if reason is not None:
        event = PendingEvent(
            SecurityEventKind.FORGED_CORRECTION,
            message.sender_bare_jid,
            message.sender_device,
            f"{message.sender_bare_jid} sent {reason}; it is shown as a new message, "
            "not as an edit",
        )
        return replace(message, flags={**flags, REFUSED_FLAG: reason}), None, event
    assert original is not None
    return replace(message, flags={**flags, CORRECTS_FLAG: original.id}), original, None


def apply(uow: UnitOfWork, original: ArchivedMessage, archive_id: int, body: str) -> None:
    """Rewrite the corrected message with the text of the correction `archive_id` (once: a
    correction already applied changes nothing)."""
    done = _ids(original.flags.get(CORRECTIONS_FLAG))
    if archive_id in done or archive_id == original.id:
        return
    flags = dict(original.flags)
    flags.setdefault(ORIGINAL_FLAG, original.body)
    flags[EDITED_FLAG] = True
    flags[CORRECTIONS_FLAG] = [*done, archive_id]
    uow.archive.rewrite(original.id, body, flags)


def archive_correction(
    uow: UnitOfWork, message: NewMessage, replaces: str
) -> tuple[int, tuple[PendingEvent, ...]]:
    """Archive a correction (or a refused one) and rewrite the message it corrects.

    Returns:
        The correction's archive id and the security events it raised.
    """
    row, original, event = correcting(uow, message, replaces)
    archive_id = uow.archive.append(row)
    if original is not None:
        apply(uow, original, archive_id, row.body)
        uow.archive.hide_from_search(archive_id)  # found once: as the message it corrects
    return archive_id, () if event is None else (event,)


def versions(uow: UnitOfWork, row: ArchivedMessage) -> list[str]:
    """Every text a message had, oldest first (one when it was never corrected)."""
    if not row.flags.get(EDITED_FLAG):
        return [row.body]
    earlier = [str(row.flags.get(ORIGINAL_FLAG, ""))]
    for archive_id in _ids(row.flags.get(CORRECTIONS_FLAG)):
        correction = uow.archive.get(archive_id)
        if correction is not None:
            earlier.append(correction.body)
    return earlier


def is_edited(flags: Mapping[str, object]) -> bool:
    """Whether a message was corrected."""
    return bool(flags.get(EDITED_FLAG))


def corrected_id(flags: Mapping[str, object]) -> int | None:
    """For a correction's row: the archive id of the message it corrected."""
    value = flags.get(CORRECTS_FLAG)
    return value if isinstance(value, int) else None


def _ids(value: object) -> Sequence[int]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, int)]
