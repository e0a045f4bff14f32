"""Pure parts of group chats: bookmarks XML (XEP-0402 and XEP-0048), room prefs, the gate."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tui_omemo.model import Namespace
from tui_omemo.service.muc import REFUSE_ANONYMOUS, REFUSE_OPEN, RoomPrefs, omemo_refusal
from tui_omemo.xmpp.bookmarks import (
    Bookmark,
    build_conference,
    build_legacy_storage,
    read_conference,
    read_legacy_storage,
)
from tui_omemo.xmpp.rooms import RoomFeatures


def test_native_bookmark_round_trip() -> None:
    """A XEP-0402 item keeps room (item id), nick, autojoin and name."""
    bookmark = Bookmark("room@conference.example", "alice", True, "Room")
    element = ET.fromstring(ET.tostring(build_conference(bookmark)))
    assert element.get("autojoin") == "true"
    assert read_conference("room@conference.example", element) == bookmark


def test_native_bookmark_with_a_bad_item_id_is_ignored() -> None:
    """An item id that is no bare room JID is no bookmark."""
    element = build_conference(Bookmark("x@y", None, False))
    assert read_conference("not-a-jid", element) is None
    assert read_conference("room@muc/nick", element) is None


def test_legacy_bookmarks_round_trip_and_accept_1() -> None:
    """XEP-0048 storage holds every conference; autojoin may be written as `1`."""
    bookmarks = [Bookmark("a@muc.example", "me", True), Bookmark("b@muc.example", None, False)]
    query = ET.fromstring(ET.tostring(build_legacy_storage(bookmarks)))
    assert read_legacy_storage(query) == bookmarks
    raw = ET.fromstring(
        "<storage xmlns='storage:bookmarks'><conference jid='c@m' "
        "autojoin='1'><nick>n</nick></conference><conference jid='nojid'/>"
        "</storage>"
    )
    assert read_legacy_storage(raw) == [Bookmark("c@m", "n", True)]


def test_room_prefs_survive_storage_and_garbage_gives_defaults() -> None:
    """The per-room choices (partial, plaintext, version, position) round-trip."""
    prefs = RoomPrefs(
        "alice", plaintext=False, partial=True, version=Namespace.LEGACY, archive_after="abc"
    )
    assert RoomPrefs.from_json(prefs.to_json()) == prefs
    assert RoomPrefs.from_json("garbage") == RoomPrefs()
    assert RoomPrefs.from_json({"version": "nope", "nick": 3}) == RoomPrefs()


def test_gate_needs_non_anonymous_and_members_only() -> None:
    """The room must reveal real JIDs and admit members only; the refusal is one sentence."""
    assert omemo_refusal(RoomFeatures(frozenset({"muc_nonanonymous", "muc_membersonly"}))) is None
    assert (
        omemo_refusal(RoomFeatures(frozenset({"muc_semianonymous", "muc_membersonly"})))
        == REFUSE_ANONYMOUS
    )
    assert omemo_refusal(RoomFeatures(frozenset({"muc_nonanonymous", "muc_open"}))) == REFUSE_OPEN
    for reason in (REFUSE_ANONYMOUS, REFUSE_OPEN):
        assert reason.count(". ") == 0
        assert reason.endswith(".")
