"""The outbox: a sent message's stanza waits, flagged pending in the archive, until the server
confirms it; confirmed messages leave in one step and deleting the conversation empties it."""

from __future__ import annotations

from tui_omemo.store import Database, Direction, NewMessage
from tui_omemo.store.outbox import PENDING_FLAG

BOB = "bob@example.org"


def outgoing(index: int) -> NewMessage:
    return NewMessage(
        peer=BOB,
        direction=Direction.OUT,
        sender_bare_jid="alice@example.org",
        body=f"out {index}",
        timestamp=1_700_000_000_000 + index,
        received_at=1_700_000_000_000 + index,
        dedupe_keys=(f"oid:alice:{index}",),
        origin_id=str(index),
        message_id=str(index),
        flags={"recipients": 1},
    )


def test_pending_messages_come_back_in_order_until_confirmed(db: Database) -> None:
    with db.unit_of_work() as uow:
        ids = [uow.archive.append(outgoing(index)) for index in range(3)]
        for archive_id in ids:
            uow.outbox.add(archive_id, f"stanza {archive_id}".encode(), 1)
        uow.outbox.add(ids[0], b"another stanza", 2)  # a second add changes nothing
    with db.unit_of_work() as uow:
        waiting = uow.outbox.pending()
        assert [item.archive_id for item in waiting] == ids
        assert waiting[0].stanza == f"stanza {ids[0]}".encode()
        rows = [uow.archive.get(archive_id) for archive_id in ids]
        assert all(
            row is not None and row.flags == {"recipients": 1, PENDING_FLAG: True} for row in rows
        )
        uow.outbox.attempted(ids[:1])
        assert uow.outbox.confirmed([ids[0], ids[1], 999]) == ids[:2]
    with db.unit_of_work() as uow:
        assert [item.archive_id for item in uow.outbox.pending()] == ids[2:]
        assert uow.archive.get(ids[0]).flags == {"recipients": 1}  # type: ignore[union-attr]
        assert uow.outbox.count() == 1


def test_deleting_a_conversation_empties_its_outbox(db: Database) -> None:
    with db.unit_of_work() as uow:
        archive_id = uow.archive.append(outgoing(1))
        uow.outbox.add(archive_id, b"stanza", 1)
        uow.archive.delete_conversation(BOB)
    with db.unit_of_work() as uow:
        assert uow.outbox.count() == 0
