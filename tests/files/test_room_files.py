"""Files in group chats and the never-in-plaintext rule, over Prosody: a file sent to a room
reaches the other member as a file message that downloads and verifies; an `aesgcm://` link
is refused, not sent, where only plaintext could go (a contact without OMEMO, a room that
refuses OMEMO), even with plaintext chosen."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Account, CliRunner
from tests.muc.conftest import MemberFactory, make_member, room_jid  # noqa: F401 (fixtures)
from tests.prosody import ProsodyServer
from tests.service.conftest import PeerFactory, make_peer  # noqa: F401 (fixture)
from tui_omemo.service.api import SendFailed
from tui_omemo.service.file_sharing import FileSharing
from tui_omemo.xmpp.http_files import HttpFiles

pytestmark = pytest.mark.prosody

LINK = "aesgcm://127.0.0.1/x/a.txt#" + "0" * 88


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


async def test_a_file_in_a_room_reaches_the_other_member(
    make_member: MemberFactory,  # noqa: F811
    room_jid: Callable[[], str],  # noqa: F811
    tmp_path: Path,
) -> None:
    """Alice's file in the room: Bob's message offers it (name, type) and it saves intact;
    Bob's archive then remembers where it was saved and its SHA-256."""
    alice, bob = await make_member(), await make_member()
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid])
    await bob.groups.join_room(room, "bob")
    content = os.urandom(20_000)
    source = _write(tmp_path / "minutes.pdf", content)
    sharing = FileSharing(
        HttpFiles(alice.peer.xmpp, allow_plaintext_loopback=True), alice.peer.service, tmp_path
    )
    report = await sharing.send_file(room, source, room=True)
    assert report.omemo is not None
    got = (await bob.next_room_message(room)).message
    assert got.file is not None
    assert got.file.type == "application/pdf"
    theirs = FileSharing(
        HttpFiles(bob.peer.xmpp, allow_plaintext_loopback=True),
        bob.peer.service,
        tmp_path / "b",
        bob.peer.service.runner,
    )
    assert await theirs.saved(got) is None
    saved = await theirs.download(got)
    assert saved.path.read_bytes() == content
    assert await theirs.saved(got) == saved
    assert saved.sha256 == hashlib.sha256(content).hexdigest()


async def test_a_file_to_a_room_with_a_member_without_keys_takes_the_partial_choice(
    make_member: MemberFactory,  # noqa: F811
    room_jid: Callable[[], str],  # noqa: F811
    prosody: ProsodyServer,
    tmp_path: Path,
) -> None:
    """Dave (a member) has no keys: the file is refused with "everyone with keys" offered
    (`partial_possible`), as a message is; sent again with `allow_partial`, Bob gets it and
    the report names Dave as skipped."""
    alice, bob = await make_member(), await make_member()
    dave_jid, _ = prosody.create_account()  # never logs in: no device list
    room = room_jid()
    await alice.groups.create_room(room, "alice", [bob.jid, dave_jid])
    await bob.groups.join_room(room, "bob")
    source = _write(tmp_path / "plan.txt", b"the plan")
    sharing = FileSharing(
        HttpFiles(alice.peer.xmpp, allow_plaintext_loopback=True), alice.groups, tmp_path
    )
    with pytest.raises(SendFailed) as refused:
        await sharing.send_file(room, source, room=True)
    assert refused.value.partial_possible
    report = await sharing.send_file(room, source, room=True, allow_partial=True)
    assert [d.bare_jid for d in report.skipped if d.device_id is None] == [dave_jid]
    got = (await bob.next_room_message(room)).message
    assert got.file is not None
    assert got.file.name.endswith(".txt")


async def test_a_link_never_goes_out_in_plaintext(
    make_member: MemberFactory,  # noqa: F811
    room_jid: Callable[[], str],  # noqa: F811
    prosody: ProsodyServer,
) -> None:
    """To a contact without OMEMO and in a semi-anonymous room, plaintext chosen: ordinary
    text goes, a file link is refused and never written to the stream."""
    alice = await make_member()
    nobody, _password = prosody.create_account()
    with pytest.raises(SendFailed):
        await alice.peer.service.send(nobody, LINK, allow_plaintext=True)
    await alice.peer.service.send(nobody, "plain words", allow_plaintext=True)
    room = room_jid()
    await alice.groups.create_room(
        room,
        "alice",
        [],
        config={"muc#roomconfig_whois": "moderators", "muc#roomconfig_membersonly": "1"},
    )
    with pytest.raises(SendFailed):
        await alice.groups.send_to_room(room, LINK, allow_plaintext=True)
    await alice.groups.send_to_room(room, "in the clear", allow_plaintext=True)
    await asyncio.sleep(0.3)  # slixmpp's send queue runs the outgoing filters
    assert any("in the clear" in stanza for stanza in alice.peer.sent)
    assert any("plain words" in stanza for stanza in alice.peer.sent)
    assert not any("aesgcm" in stanza for stanza in alice.peer.sent)


@pytest.mark.slow
async def test_listen_echo_answers_a_file_in_a_room_with_its_digest(
    prosody: ProsodyServer,
    runner: CliRunner,
    new_account: Callable[[str], Awaitable[Account]],
    tmp_path: Path,
) -> None:
    """Alice's `send-file` to a room: Bob's `listen --echo` downloads it and answers in the
    room with the file's name, size and SHA-256 (never the link)."""
    alice, bob = await new_account("alice"), await new_account("bob")
    room = f"file-echo@{prosody.muc_domain}"
    created = await runner.run(alice, "muc", "join", room, "--nick", "alice", "--member", bob.jid)
    assert created.code == 0, created.err
    joined = await runner.run(bob, "muc", "join", room, "--nick", "bob")
    assert joined.code == 0, joined.err
    content = os.urandom(4_000)
    source = _write(tmp_path / "minutes.txt", content)
    listener = await runner.start(bob, "listen", "--count", "1", "--timeout", "60", "--echo")
    try:
        await listener.wait_ready()
        sent = await runner.run(alice, "send-file", room, str(source))
        assert sent.code == 0, sent.err
        assert await listener.wait() == 0, "".join(listener.stderr)
    finally:
        await listener.stop()
    await runner.run(alice, "muc", "members", room)  # catches the room up
    history = await runner.run(alice, "history", room)
    digest = hashlib.sha256(content).hexdigest()
    # the link names the random upload name with the file's extension
    assert re.search(rf"echo: file [0-9a-f]{{32}}\.txt, 4000 bytes, SHA-256 {digest}", history.out)
    assert "aesgcm" not in history.out
