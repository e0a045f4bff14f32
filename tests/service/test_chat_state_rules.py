"""Which chat states count, and who hears ours (XEP-0085, issue 17), on the contract-pinned
fake transport: a state counts only for the chat of its sender's bare JID, never from our own
account, never a groupchat one outside a room we are in, in a room only from another occupant;
the setting off shows none; someone outside the roster hears our typing only after sending us
a state."""

from __future__ import annotations

import asyncio

from devtools.fake_transport import FakeNetwork
from tui_omemo.config import Settings
from tui_omemo.service.api import ChatStateChanged, ServiceEvent
from tui_omemo.service.chat_states import ChatStates
from tui_omemo.service.ports import ChatStateArrival

ROOM = "room@muc.fake.example"


async def _no_roster(_jid: str) -> str | None:
    return None


async def test_states_count_only_for_their_own_chat_and_our_typing_only_for_those_heard() -> None:
    """Of six arrivals only Zoe's groupchat state in our room and Dave's own state show;
    Dave hears our composing only after his state; with the setting off nothing more shows
    and nothing more goes."""
    network = FakeNetwork()
    me, dave = network.new_jid(), network.new_jid()
    ours, theirs = network.transport(me), network.transport(dave)
    for transport in (ours, theirs):
        await transport.go_online()
    settings = Settings()
    shown: list[ServiceEvent] = []
    states = ChatStates(
        ours, lambda: settings, shown.append, _no_roster, lambda c: "me" if c == ROOM else None
    )
    heard: list[ChatStateArrival] = []
    theirs.set_chat_state_handler(heard.append)

    await states.composing(dave)  # a stranger who never sent a state: nothing goes
    arrivals = [
        ChatStateArrival(f"{me}/other", "chat", "composing"),  # our own other device
        ChatStateArrival(f"{dave}/r", "groupchat", "composing"),  # groupchat, not a room
        ChatStateArrival(f"{ROOM}/me", "groupchat", "composing"),  # ourselves in the room
        ChatStateArrival(f"{ROOM}/zoe", "chat", "composing"),  # a private message in the room
        ChatStateArrival(f"{ROOM}/zoe", "groupchat", "composing"),
        ChatStateArrival(f"{dave}/r", "chat", "paused"),
    ]
    for arrival in arrivals:
        ours.chat_state_arrived(arrival)
    await asyncio.sleep(0.01)
    assert shown == [ChatStateChanged(ROOM, "composing", "zoe"), ChatStateChanged(dave, "paused")]
    assert heard == []

    await states.composing(dave)  # dave sent a state: now he hears ours
    await asyncio.sleep(0.01)
    assert [(a.sender, a.state) for a in heard] == [(ours.full_jid, "composing")]

    settings = Settings(chat_states=False)
    ours.chat_state_arrived(ChatStateArrival(f"{dave}/r", "chat", "composing"))
    await states.active(dave)
    await asyncio.sleep(0.01)
    assert len(shown) == 2
    assert len(heard) == 1
    states.close()
