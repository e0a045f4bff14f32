"""The archive: idempotent append, stable newest-first paging, FTS5 search with snippets
that no user input can break."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.store.conftest import DictKeyring
from tui_omemo.model import TrustLevel
from tui_omemo.store import Database, Direction, KeyringKeys, NewMessage, open_profile

BOB = "bob@example.org"
CAROL = "carol@example.org"


def message(
    index: int, body: str = "", peer: str = BOB, timestamp: int | None = None
) -> NewMessage:
    return NewMessage(
        peer=peer,
        direction=Direction.IN,
        sender_bare_jid=peer,
        body=body or f"message number {index}",
        timestamp=1_700_000_000_000 + index if timestamp is None else timestamp,
        received_at=1_700_000_000_000 + index,
        dedupe_keys=(f"stanza-{peer}-{index}",),
        sender_device=12345,
        trust=TrustLevel.VERIFIED,
        omemo_version="2",
        stanza_id=f"sid-{index}",
        flags={"edited": False},
    )


def test_append_is_idempotent_on_the_dedupe_key(db: Database) -> None:
    """Appending the same dedupe key again returns the first id and stores nothing new."""
    with db.unit_of_work() as uow:
        first = uow.archive.append(message(1, "original"))
        again = uow.archive.append(message(1, "a resend with another body"))
        other_key = uow.archive.append(
            replace(message(2), dedupe_keys=("x", "stanza-bob@example.org-1"))
        )
    with db.snapshot() as uow:
        assert first == again == other_key
        assert uow.archive.count(BOB) == 1
        stored = uow.archive.get(first)
        assert stored is not None
        assert stored.body == "original"
        assert uow.dedupe.seen(["stanza-bob@example.org-1"]) == first


def _fields(new: NewMessage) -> dict[str, object]:
    return {name: getattr(new, name) for name in NewMessage.__dataclass_fields__}


def test_stored_message_round_trips_every_field(db: Database) -> None:
    """What goes in comes back out, including trust, version and flags."""
    original = message(7, "round trip")
    with db.unit_of_work() as uow:
        archive_id = uow.archive.append(original)
    with db.snapshot() as uow:
        stored = uow.archive.get(archive_id)
    assert stored is not None
    for name, value in _fields(original).items():
        if name not in ("dedupe_keys", "stamped"):  # stamped decides the position only
            assert getattr(stored, name) == value, name


def test_paging_is_newest_first_and_stable_across_equal_timestamps(db: Database) -> None:
    """With many messages sharing one timestamp, pages neither skip nor repeat a message."""
    with db.unit_of_work() as uow:
        ids = [uow.archive.append(message(i, timestamp=1000 + i // 7)) for i in range(50)]
        uow.archive.append(message(99, peer=CAROL))
    seen: list[int] = []
    with db.snapshot() as uow:
        page = uow.archive.page(BOB, limit=8)
        while True:
            seen.extend(m.id for m in page.messages)
            if page.older is None:
                break
            page = uow.archive.page(BOB, before=page.older, limit=8)
        assert uow.archive.count(BOB) == 50
    assert seen == sorted(ids, reverse=True)


def test_last_full_page_has_no_older_cursor(db: Database) -> None:
    """When the page reaches the first message, `older` is None (no empty extra page)."""
    with db.unit_of_work() as uow:
        for i in range(10):
            uow.archive.append(message(i))
    with db.snapshot() as uow:
        assert uow.archive.page(BOB, limit=10).older is None
        assert uow.archive.page(BOB, limit=9).older is not None
        assert uow.archive.page("nobody@example.org").messages == ()


def test_search_finds_words_with_snippets_and_filters(db: Database) -> None:
    """Search matches words (diacritics folded), marks them in the snippet and honours the
    peer and since filters."""
    with db.unit_of_work() as uow:
        uow.archive.append(message(1, "let us meet at the café tomorrow"))
        uow.archive.append(message(2, "nothing to see"))
        uow.archive.append(message(3, "cafe again, later", peer=CAROL))
    with db.snapshot() as uow:
        hits = uow.archive.search("cafe")
        assert [hit.message.peer for hit in hits] == [CAROL, BOB]
        matched = [part.text for part in hits[1].snippet if part.match]
        assert matched == ["café"]
        assert hits[1].snippet_text == "let us meet at the café tomorrow"
        assert [h.message.peer for h in uow.archive.search("cafe", peer=BOB)] == [BOB]
        assert uow.archive.search("cafe", since=1_700_000_000_003) == hits[:1]
        assert len(uow.archive.search("caf*")) == 2
        assert uow.archive.search("meet tomorrow")[0].message.peer == BOB
        assert uow.archive.search("meet nothing") == []


@pytest.mark.parametrize(
    "text",
    [
        '"',
        "AND(",
        "NEAR(a b",
        "a OR",
        "*",
        "-x",
        "body:x",
        "^",
        "''",
        "(",
        ")",
        "\\",
        "   ",
        "a\x00b",
    ],
)
def test_hostile_search_strings_do_not_crash(db: Database, text: str) -> None:
    """FTS5 syntax typed into the search box is searched literally, never parsed."""
    with db.unit_of_work() as uow:
        uow.archive.append(message(1, 'he said "AND(" then -x and NEAR(a b'))
    with db.snapshot() as uow:
        uow.archive.search(text)


def test_search_index_follows_deletes(db: Database) -> None:
    """Deleting a conversation removes its messages from the index and its dedupe keys."""
    with db.unit_of_work() as uow:
        uow.archive.append(message(1, "ephemeral words"))
    with db.unit_of_work() as uow:
        assert uow.archive.delete_conversation(BOB) == 1
    with db.snapshot() as uow:
        assert uow.archive.search("ephemeral") == []
        assert uow.dedupe.seen(["stanza-bob@example.org-1"]) is None


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    profile = tmp_path_factory.mktemp("fuzz") / "profile"
    database = open_profile(profile, KeyringKeys(DictKeyring()))
    with database.unit_of_work() as uow:
        uow.archive.append(message(1, "quotes \" and ' and AND( NEAR * ^ :"))
    yield database
    database.close()


@settings(max_examples=200, deadline=None)
@given(text=st.text(st.characters(codec="utf-8"), max_size=40))
def test_any_search_text_is_safe(shared_db: Database, text: str) -> None:
    """No string at all makes search raise."""
    with shared_db.snapshot() as uow:
        hits = uow.archive.search(text)
    assert isinstance(hits, list)


def test_archive_requires_a_dedupe_key(db: Database, tmp_path: Path) -> None:
    """A message without a dedupe key is refused (it could never be de-duplicated)."""
    with pytest.raises(ValueError, match="dedupe"), db.unit_of_work() as uow:
        uow.archive.append(replace(message(1), dedupe_keys=()))


@settings(max_examples=30, deadline=None)
@given(
    timestamps=st.lists(st.integers(0, 5), min_size=0, max_size=40),
    page_size=st.integers(1, 12),
)
def test_paging_visits_every_message_once_in_order(
    shared_db: Database, timestamps: list[int], page_size: int
) -> None:
    """For any timestamps (many equal) and page size, following the cursors yields every
    message exactly once, newest first in arrival order (times do not reorder live messages,
    issue 11)."""
    peer = f"paging-{uuid.uuid4().hex}@example.org"
    with shared_db.unit_of_work() as uow:
        stored = [
            (
                ts,
                uow.archive.append(
                    replace(message(i, peer=peer, timestamp=ts), dedupe_keys=(f"{peer}/{i}",))
                ),
            )
            for i, ts in enumerate(timestamps)
        ]
    seen: list[tuple[int, int]] = []
    with shared_db.snapshot() as uow:
        page = uow.archive.page(peer, limit=page_size)
        seen += [(m.timestamp, m.id) for m in page.messages]
        while page.older is not None:
            page = uow.archive.page(peer, before=page.older, limit=page_size)
            seen += [(m.timestamp, m.id) for m in page.messages]
    assert seen == sorted(stored, key=lambda pair: pair[1], reverse=True)


def _newest_first(db: Database, peer: str = BOB) -> list[str]:
    with db.snapshot() as uow:
        return [m.body for m in uow.archive.page(peer, limit=100).messages]


def test_live_messages_keep_arrival_order_whatever_their_times(db: Database) -> None:
    """A reply stamped by another (or a coarser) clock before the message it answers still
    comes after it: the failure of test_cli_to_cli_both_ways (issue 11); search agrees."""
    with db.unit_of_work() as uow:
        uow.archive.append(message(1, "hello there", timestamp=1_700_000_000_700))
        uow.archive.append(message(2, "hi back there", timestamp=1_700_000_000_000))
    assert _newest_first(db) == ["hi back there", "hello there"]
    with db.snapshot() as uow:
        assert [hit.message.body for hit in uow.archive.search("there")] == [
            "hi back there",
            "hello there",
        ]


def test_catch_up_is_placed_by_its_stamp_ties_by_arrival(db: Database) -> None:
    """A stamped (catch-up) message goes after the newest message not later than its stamp,
    a whole-second stamp counts as its whole second, and one older than all goes first;
    several in a row (a catch-up delivers in stamp order) keep their order."""
    base = 1_700_000_000_000

    def stamped(index: int, body: str, timestamp: int) -> NewMessage:
        return replace(message(index, body, timestamp=timestamp), stamped=True)

    with db.unit_of_work() as uow:
        uow.archive.append(message(1, "sent A", timestamp=base + 700))
        uow.archive.append(message(2, "sent B", timestamp=base + 5_000))
        uow.archive.append(stamped(3, "same second as A", base))
        uow.archive.append(stamped(4, "stamp 3s", base + 3_000))
        uow.archive.append(stamped(5, "before all", base - 60_000))
        uow.archive.append(stamped(6, "still before all", base - 59_000))
        uow.archive.append(stamped(7, "after all", base + 9_000))
        uow.archive.append(message(8, "live again", timestamp=base))
    assert _newest_first(db)[::-1] == [
        "before all",
        "still before all",
        "sent A",
        "same second as A",
        "stamp 3s",
        "sent B",
        "after all",
        "live again",
    ]
    with db.snapshot() as uow:
        newest = uow.archive.page(BOB, limit=3)
        assert newest.older is not None
        rest = uow.archive.page(BOB, before=newest.older, limit=100)
    assert [m.body for m in (*newest.messages, *rest.messages)] == _newest_first(db)
