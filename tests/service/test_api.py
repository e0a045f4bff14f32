"""The rest of `ChatService` over real peers: history paging, search, trust URIs, settings,
security events, the roster summary, manual session rebuild and the crash points."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from tests.service.conftest import PeerFactory, ServicePeerFactory
from tui_omemo.events import SecurityEventKind
from tui_omemo.model import TrustLevel
from tui_omemo.service import crashpoints
from tui_omemo.service.api import ChatSecurity, RosterChanged, SecurityEventRaised


async def test_history_paging_search_and_settings(make_fake_peer: ServicePeerFactory) -> None:
    """Pages come oldest first with a cursor to older ones; search finds archived words;
    settings change from text and persist."""
    alice = await make_fake_peer()
    bob = await make_fake_peer()
    for n in range(5):
        await alice.service.send(bob.jid, f"note {n} zebra" if n == 3 else f"note {n}")
    newest = await alice.service.history(bob.jid, None, 2)
    assert [m.body for m in newest.messages] == ["note 3 zebra", "note 4"]
    older = await alice.service.history(bob.jid, newest.before, 10)
    assert [m.body for m in older.messages] == ["note 0", "note 1", "note 2"]
    assert older.before is None
    hits = await alice.service.search("zebra")
    assert [hit.message.body for hit in hits] == ["note 3 zebra"]
    settings = await alice.service.update_setting("trust_mode", "manual")
    assert settings.trust_mode == "manual"
    with pytest.raises(ValueError, match="unknown setting"):
        await alice.service.update_setting("nope", "1")


async def test_trust_uri_round_trip_and_security_events(make_fake_peer: ServicePeerFactory) -> None:
    """Bob's own URI, pasted at Alice, previews his device and verifies it; the change is in
    the security events and the chat badge turns to all-verified."""
    alice = await make_fake_peer()
    bob = await make_fake_peer()
    await alice.service.add_contact(bob.jid)
    uri = await bob.service.own_trust_uri()
    assert uri.startswith(f"xmpp:{bob.jid}?omemo-sid-{bob.service.device_id}=")
    preview = await alice.service.preview_trust_uri(uri)
    assert [(f.device_id, f.known, f.current) for f in preview.fingerprints] == [
        (bob.service.device_id, True, TrustLevel.BLINDLY_TRUSTED)
    ]
    assert await alice.service.apply_trust_uri(uri) == 1
    devices = await alice.service.devices(bob.jid)
    assert [d.trust for d in devices] == [TrustLevel.VERIFIED]
    assert devices[0].fingerprint.replace(" ", "") in uri
    chats = {chat.jid: chat for chat in await alice.service.chats()}
    assert chats[bob.jid].security is ChatSecurity.ALL_VERIFIED
    kinds = [event.kind.value for event in await alice.service.security_events()]
    assert "new_device" in kinds
    with pytest.raises(ValueError):
        await alice.service.preview_trust_uri("https://example.org")
    own = await alice.service.devices()
    assert own[0].this_device


async def test_a_uri_verification_reaches_the_badge_and_the_timeline_at_once(
    make_fake_peer: ServicePeerFactory,
) -> None:
    """Verifying by URI tells the screens as a verification in the trust manager does: the
    chat's fresh summary (all verified: the open chat's badge and the roster row change at
    once, they kept "blind trust") and a trust change in the security events."""
    alice = await make_fake_peer()
    bob = await make_fake_peer()
    await alice.service.add_contact(bob.jid)
    assert await alice.service.apply_trust_uri(await bob.service.own_trust_uri()) == 1
    changed = await alice.next_event(RosterChanged)
    while changed.chat.security is not ChatSecurity.ALL_VERIFIED:  # earlier ones first
        changed = await alice.next_event(RosterChanged)
    assert changed.chat.jid == bob.jid
    raised = await alice.next_event(SecurityEventRaised)
    while raised.event.kind is not SecurityEventKind.TRUST_CHANGED:
        raised = await alice.next_event(SecurityEventRaised)
    assert raised.event.device_id == bob.service.device_id
    kinds = [event.kind for event in await alice.service.security_events()]
    assert SecurityEventKind.TRUST_CHANGED in kinds
    assert await alice.service.apply_trust_uri(await bob.service.own_trust_uri()) == 0


@pytest.mark.prosody
async def test_manual_rebuild_session_sends_a_fresh_key_exchange(make_peer: PeerFactory) -> None:
    """rebuild_session forgets the session and sends the device an empty key exchange, after
    which the chat still works both ways."""
    alice = await make_peer()
    bob = await make_peer()
    await alice.service.send(bob.jid, "before")
    await bob.next_message()
    await bob.service.wait_idle()
    await asyncio.sleep(0.3)  # Bob's empty answer reaches Alice before the rebuild
    await alice.service.rebuild_session(bob.jid, bob.service.device_id)
    await asyncio.sleep(0.3)
    assert any('kex="true"' in s and "<payload>" not in s for s in alice.sent)
    await alice.service.send(bob.jid, "after")
    assert (await bob.next_message()).message.body == "after"
    await bob.service.send(alice.jid, "reply")
    got = (await alice.next_message()).message
    assert (got.body, got.failure) == ("reply", None)


def test_crash_point_exits_137_only_at_its_name() -> None:
    """crash_point ends the process with 137 when TUI_OMEMO_CRASH_AT names it, else nothing."""
    code = (
        "from tui_omemo.service.crashpoints import crash_point as c;"
        "c('after_decrypt'); c('before_commit'); print('survived')"
    )
    env = {crashpoints.ENV_VAR: crashpoints.BEFORE_COMMIT, "PATH": ""}
    died = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, check=False, timeout=30
    )
    assert died.returncode == crashpoints.EXIT_CODE
    assert b"survived" not in died.stdout
    lived = subprocess.run(
        [sys.executable, "-c", code], env={"PATH": ""}, capture_output=True, check=False, timeout=30
    )
    assert lived.returncode == 0
    assert b"survived" in lived.stdout


async def test_roster_rows_count_unread_messages(make_fake_peer: ServicePeerFactory) -> None:
    """An incoming message raises the contact's unread count; mark_read sets it to zero."""
    alice = await make_fake_peer()
    bob = await make_fake_peer()
    await alice.service.add_contact(bob.jid)
    await bob.service.add_contact(alice.jid)
    await bob.service.send(alice.jid, "are you there?")
    await alice.next_message()
    await asyncio.sleep(0.5)
    row = {chat.jid: chat for chat in await alice.service.chats()}[bob.jid]
    assert row.unread == 1
    await alice.service.mark_read(bob.jid)
    row = {chat.jid: chat for chat in await alice.service.chats()}[bob.jid]
    assert row.unread == 0
