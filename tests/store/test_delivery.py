"""Issue 17 in the store: our message is found by its dedupe key only in its own 1:1
conversation and only when it is ours; its delivery only rises (received, then read); an
incoming markable message is marked displayed once."""

from __future__ import annotations

from tui_omemo.store import Database, Direction, NewMessage


def _message(direction: Direction, key: str, **changes: object) -> NewMessage:
    fields: dict[str, object] = {
        "peer": "bob@x",
        "direction": direction,
        "sender_bare_jid": "alice@x" if direction is Direction.OUT else "bob@x",
        "body": "hi",
        "timestamp": 1,
        "received_at": 1,
        "dedupe_keys": (key,),
        "message_id": key.rsplit(":", 1)[-1],
    }
    return NewMessage(**{**fields, **changes})  # type: ignore[arg-type]


def test_ours_is_found_by_key_in_its_conversation_and_rises_only(db: Database) -> None:
    with db.unit_of_work() as uow:
        ours = uow.archive.append(_message(Direction.OUT, "oid:alice@x:m1"))
        uow.archive.append(_message(Direction.IN, "oid:bob@x:m2", flags={"markable": True}))
        uow.archive.append(_message(Direction.OUT, "oid:alice@x:m3", room="r@muc.x"))
    with db.unit_of_work() as uow:
        assert uow.deliveries.ours("bob@x", ["oid:alice@x:m1"]) == ours
        assert uow.deliveries.ours("carol@x", ["oid:alice@x:m1"]) is None  # not to carol
        assert uow.deliveries.ours("bob@x", ["oid:bob@x:m2"]) is None  # bob's, not ours
        assert uow.deliveries.ours("bob@x", ["oid:alice@x:m3"]) is None  # a room's
        assert uow.deliveries.raise_to(ours, "read")
        assert not uow.deliveries.raise_to(ours, "received")  # never back
        assert uow.archive.get(ours).flags["delivery"] == "read"  # type: ignore[union-attr]
        found = uow.deliveries.undisplayed("bob@x")
        assert found is not None
        assert found[1] == "m2"
        uow.deliveries.displayed(found[0])
        assert uow.deliveries.undisplayed("bob@x") is None
