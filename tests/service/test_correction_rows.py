"""A correction survives the inbox and the outbox (issue #17): an incoming one kept as
ciphertext (a crash before its commit) still names the message it replaces when it is retried,
and our queued one is resent with its `<replace>`; rows without one keep their format."""

from __future__ import annotations

from tests.xmpp.test_translate import legacy_encrypted
from tui_omemo.model import Arrival, ReplyRef
from tui_omemo.service.outbox import RoomOutbound, decode, encode
from tui_omemo.service.ports import Inbound, Outbound


def test_inbox_row_keeps_the_replaced_id() -> None:
    inbound = Inbound(Arrival.LIVE, "a@x/r", "b@x", encrypted=legacy_encrypted(), replaces="m1")
    assert Inbound.from_bytes(inbound.to_bytes()).replaces == "m1"
    plain = Inbound(Arrival.LIVE, "a@x/r", "b@x", encrypted=legacy_encrypted())
    assert b"replaces" not in plain.to_bytes()


def test_outbox_rows_keep_the_replaced_id() -> None:
    chat = Outbound("b@x", "m2", legacy_encrypted(), "hint", None, "m1")
    room = RoomOutbound("r@muc.x", "m3", legacy_encrypted(), "hint", "m1")
    assert decode(encode(chat)) == chat
    assert decode(encode(room)) == room
    assert b"replaces" not in encode(Outbound("b@x", "m4", legacy_encrypted()))


def test_a_queued_room_reply_is_resent_with_its_reply() -> None:
    """A room reply written while offline names the message it answers when it is resent."""
    reply = ReplyRef("room-stanza-id", "r@muc.x/bob", 0, 8)
    room = RoomOutbound("r@muc.x", "m5", legacy_encrypted(), "hint", None, reply)
    assert decode(encode(room)).reply == reply
