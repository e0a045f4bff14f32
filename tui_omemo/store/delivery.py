"""What a contact's devices said about our messages (issue 17), kept in the archive's flags.

No schema change: an outgoing 1:1 row gains ``delivery`` (``received`` or ``read``, only ever
raised) when a receipt or displayed marker for it is accepted; an incoming row that asked for
a receipt or is markable carries ``receipt`` / ``markable``, and ``displayed`` once we sent
our displayed marker for it (so a chat opened again does not send it twice) or another device
of ours sent one ("read elsewhere": this device need not send it again).
"""

from __future__ import annotations

from collections.abc import Sequence

from tui_omemo.store.archive import CORRECTS_FLAG
from tui_omemo.store.sql import Connection

DELIVERY_FLAG = "delivery"
"""Outgoing rows: "received" or "read" (absent: only the server has it)."""
RECEIPT_FLAG = "receipt"
"""Incoming rows: the sender asked for a delivery receipt."""
MARKABLE_FLAG = "markable"
"""Incoming rows: the sender may be told we displayed it."""
DISPLAYED_FLAG = "displayed"
"""Incoming rows: our displayed marker for it (or a later message) was sent."""
_RANK = {None: 0, "received": 1, "read": 2}


class Deliveries:
    """Repository over the delivery flags of the ``archive`` rows."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def ours(self, peer: str, keys: Sequence[str]) -> int | None:
        """The archive id of our 1:1 message to `peer` known by one of these dedupe keys
        (its origin-id or message id: a key lookup, however long the conversation)."""
        marks = ", ".join("?" for _ in keys)
        row = self._connection.execute(
            "SELECT archive.id FROM dedupe JOIN archive ON archive.id = dedupe.archive_id "  # noqa: S608 (placeholders only)
            f"WHERE dedupe.key IN ({marks}) AND archive.peer = ? AND archive.room IS NULL "
            "AND archive.direction = 'out' LIMIT 1",
            (*keys, peer),
        ).fetchone()
        return None if row is None else int(row[0])

    def raise_to(self, archive_id: int, level: str) -> bool:
        """Set the row's delivery to `level` unless it is already there or beyond; whether
        it changed."""
        row = self._connection.execute(
            f"SELECT json_extract(flags, '$.{DELIVERY_FLAG}') FROM archive WHERE id = ?",  # noqa: S608 (constant)
            (archive_id,),
        ).fetchone()
        if row is None or _RANK.get(row[0], 0) >= _RANK[level]:
            return False
        self._connection.execute(
            f"UPDATE archive SET flags = json_set(flags, '$.{DELIVERY_FLAG}', ?) WHERE id = ?",  # noqa: S608 (constant)
            (level, archive_id),
        )
        return True

    def undisplayed(self, peer: str) -> tuple[int, str] | None:
        """The newest incoming markable 1:1 message of `peer` (id, message id) when our
        displayed marker has not been sent for it yet."""
        row = self._connection.execute(
            "SELECT id, message_id, json_extract(flags, ?), json_extract(flags, ?) FROM archive "
            "WHERE peer = ? AND room IS NULL AND direction = 'in' AND message_id IS NOT NULL "
            "ORDER BY seq DESC, id DESC LIMIT 1",
            (f"$.{MARKABLE_FLAG}", f"$.{DISPLAYED_FLAG}", peer),
        ).fetchone()
        if row is None or not row[2] or row[3]:
            return None
        return int(row[0]), str(row[1])

    def displayed(self, archive_id: int) -> None:
        """Note that our displayed marker for this row was sent."""
        self._connection.execute(
            f"UPDATE archive SET flags = json_set(flags, '$.{DISPLAYED_FLAG}', json('true')) "  # noqa: S608 (constant)
            "WHERE id = ?",
            (archive_id,),
        )

    def read_elsewhere(self, peer: str, message_id: str, *, room: bool = False) -> int | None:
        """Another device of ours displayed the incoming message `message_id` of the chat
        `peer` (1:1: its stanza id or origin-id; a room: the room's stanza-id): note it as
        displayed and count the chat's incoming messages that came after it (corrections are
        not counted, as they are not unread messages).

        Returns:
            How many of the chat's incoming messages are newer; None when no incoming message
            of the chat has that id.
        """
        chat = "room = peer" if room else "room IS NULL"
        named = "stanza_id = ?2" if room else "(message_id = ?2 OR origin_id = ?2)"
        row = self._connection.execute(
            f"SELECT id FROM archive WHERE peer = ?1 AND {chat} AND direction = 'in' "  # noqa: S608 (constants)
            f"AND {named} ORDER BY id DESC LIMIT 1",
            (peer, message_id),
        ).fetchone()
        if row is None:
            return None
        archive_id = int(row[0])
        self.displayed(archive_id)
        later = self._connection.execute(
            f"SELECT count(*) FROM archive WHERE peer = ? AND {chat} AND direction = 'in' "  # noqa: S608 (constants)
            "AND id > ? AND json_extract(flags, ?) IS NULL",
            (peer, archive_id, f"$.{CORRECTS_FLAG}"),
        ).fetchone()
        assert later is not None
        return int(later[0])
