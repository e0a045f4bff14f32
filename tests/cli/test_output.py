"""Pure helpers of the commands: terminal-safe text, server addresses, what gets echoed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tui_omemo.commands.account import Server, is_loopback, parse_server
from tui_omemo.commands.console import UsageError
from tui_omemo.commands.listen import _echoable
from tui_omemo.commands.output import MessageView, clean_text, iso_time
from tui_omemo.model import Namespace
from tui_omemo.service.api import ChatMessage, MessageTrust


def test_clean_text_keeps_words_and_neutralises_controls() -> None:
    assert clean_text("héllo wörld ✓") == "héllo wörld ✓"
    assert clean_text("a\nb\tc") == "a\\nb\\tc"
    assert clean_text("\x1b[31mred\x07") == "\ufffd[31mred\ufffd"
    assert clean_text("abc\u202edef\u2066") == "abc\ufffddef\ufffd"


def test_iso_time_is_utc_with_milliseconds() -> None:
    assert iso_time(1_764_000_000_123) == "2025-11-24T16:00:00.123+00:00"


@pytest.mark.parametrize(
    ("text", "server"),
    [
        ("example.org", Server("example.org", 5222)),
        ("127.0.0.1:5333", Server("127.0.0.1", 5333)),
        ("[::1]:5280", Server("::1", 5280)),
        ("[::1]", Server("::1", 5222)),
    ],
)
def test_parse_server(text: str, server: Server) -> None:
    assert parse_server(text) == server


@pytest.mark.parametrize("text", [":5222", "host:0", "host:99999", "host:x"])
def test_parse_server_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_server(text)


def test_loopback_hosts() -> None:
    assert all(is_loopback(h) for h in ("localhost", "127.0.0.1", "127.3.4.5", "::1"))
    assert not any(is_loopback(h) for h in ("example.org", "10.0.0.1", "localhost.example"))


def _message(
    body: str,
    *,
    outgoing: bool = False,
    omemo: Namespace | None = Namespace.V2,
    nick: str | None = None,
) -> ChatMessage:
    return ChatMessage(
        1,
        "bob@localhost",
        outgoing,
        "bob@localhost",
        datetime.now(UTC),
        body,
        MessageTrust.BLIND,
        omemo,
        7,
        nick,
    )


def test_echo_answers_only_decrypted_one_to_one_messages_that_are_not_echoes() -> None:
    assert _echoable(_message("hi"))
    assert not _echoable(_message("hi", outgoing=True))
    assert not _echoable(_message("hi", omemo=None))
    assert not _echoable(_message("hi", nick="bob"))
    assert not _echoable(_message("echo: hi"))


def test_message_view_has_room_and_nick_only_for_group_messages() -> None:
    """`--json` carries `room` and `nick` for a group message and null for 1:1;
    the readable line names the sender room/nick, with a peer's nick neutralised."""
    one = MessageView("bob@x", False, "bob@x", 7, "hi", None, "2", None, 0)
    group = MessageView(
        "r@muc.x", False, "bob@x", 7, "hi", None, "2", None, 0, room="r@muc.x", nick="bo\x1b[31mb"
    )
    assert json.loads(one.to_json())["room"] is None
    assert json.loads(one.to_json())["nick"] is None
    shown = json.loads(group.to_json())
    assert (shown["room"], shown["nick"]) == ("r@muc.x", "bo\x1b[31mb")
    assert " r@muc.x/bo\ufffd[31mb [OMEMO 2] hi" in group.to_line()


def test_a_reply_is_marked_in_the_readable_line() -> None:
    """`history`/`listen` without --json say "(reply)" before a reply's text (issue 17);
    other messages carry no mark."""
    reply = MessageView("bob@x", False, "bob@x", 7, "noon", None, "2", None, 0, reply_to="m-1")
    assert reply.to_line().endswith("[OMEMO 2] (reply) noon")
    assert (
        "(reply)" not in MessageView("bob@x", False, "bob@x", 7, "hi", None, "2", None, 0).to_line()
    )
