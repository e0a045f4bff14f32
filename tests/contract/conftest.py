"""The two sides of the `ChatService` contract: `FakeService` and the real `OmemoChatService`.

Each side is a `Side`: our service, a contact in its roster who can receive and answer, a room
name, and a JID that is not in the roster and has no OMEMO device. What "the contact answers"
means differs (the fake is told to `receive`; on the real side a second real service over the
Prosody fixture sends), and so does "the contact got it" (nothing to check on the fake). Every
assertion on our service is the same for both (tests/contract/test_chat_service.py).

One side of each kind serves the whole module (module-scoped, on the module's event loop):
logging two accounts in per test would cost seconds each. Tests therefore use their own words
and look only at the events they caused (`Side.drain` first).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
import pytest_asyncio

from tests.cli.conftest import Account, subscribe_both
from tests.fakes_ui import BOB, FakeService
from tests.prosody import ProsodyServer
from tests.service.conftest import Peer, start_peer
from tests.store.conftest import DictKeyring
from tui_omemo.service.api import ChatService, MessageReceived, ServiceEvent

TIMEOUT = 20.0
_E = TypeVar("_E", bound=ServiceEvent)


@dataclass
class Side:
    """Our service under the contract, with what the tests need around it."""

    name: str
    service: ChatService
    contact: str
    stranger: str
    room_jid: Callable[[], str]
    events: asyncio.Queue[ServiceEvent] = field(default_factory=asyncio.Queue)
    peer: Peer | None = None
    """The contact's real service (real side only)."""
    fake: FakeService | None = None

    async def contact_sends(self, text: str) -> None:
        """The contact writes us `text` (1:1, encrypted)."""
        if self.peer is not None:
            await self.peer.service.send(self.service.own_jid, text)
        else:
            assert self.fake is not None
            self.fake.receive(self.contact, text)

    async def contact_got(self, text: str) -> None:
        """The contact decrypted `text` from us (real side; the fake has nobody to ask)."""
        if self.peer is not None:
            assert (await self.peer.next_message()).message.body == text

    async def make_room(self, *, stranger: bool = False) -> str:
        """A room configured for OMEMO by the contact, who is in it (as "bob") and made us a
        member (and, with `stranger`, the stranger, who has no OMEMO device: the contact
        chose "everyone with keys" for it); we have not joined it yet."""
        room = self.room_jid()
        keyless = [self.stranger] if stranger else []
        if self.peer is not None:
            groups = self.peer.service.groups
            assert groups is not None
            await groups.create_room(room, "bob", [self.service.own_jid, *keyless])
            await groups.set_partial_choice(room, stranger)
        else:
            assert self.fake is not None
            self.fake.add_room(room, [self.contact], without_keys=keyless)
        return room

    async def contact_learns_room(self, room: str) -> None:
        """The contact sees that we joined (real side: its member list and our devices)."""
        if self.peer is not None:
            groups = self.peer.service.groups
            assert groups is not None
            async with asyncio.timeout(TIMEOUT):
                while not (await groups.room_info(room)).members:  # noqa: ASYNC110 (no event)
                    await asyncio.sleep(0.05)

    async def contact_says_in_room(self, room: str, text: str) -> None:
        """The contact writes `text` in `room` (encrypted)."""
        if self.peer is not None:
            await self.peer.service.send_to_room(room, text)
        else:
            assert self.fake is not None
            self.fake.receive(room, text, nick="bob", sender=self.contact)

    async def contact_got_in_room(self, room: str, text: str) -> None:
        """The contact decrypted our `text` in `room` (real side)."""
        if self.peer is not None:
            async with asyncio.timeout(TIMEOUT):
                while True:
                    got = (await self.peer.next_message()).message
                    if got.peer == room and got.body == text:
                        return

    def drain(self) -> list[ServiceEvent]:
        """Forget (and return) every event so far."""
        gone = []
        while not self.events.empty():
            gone.append(self.events.get_nowait())
        return gone

    async def next_event(self, kind: type[_E], match: Callable[[_E], bool] = lambda _e: True) -> _E:
        """The next event of `kind` that `match`es, within TIMEOUT (others are dropped)."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                event = await self.events.get()
                if isinstance(event, kind) and match(event):
                    return event

    async def quiet(self, seconds: float = 1.0) -> list[ServiceEvent]:
        """Every event within `seconds` (to show that something did NOT happen)."""
        seen: list[ServiceEvent] = []
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            try:
                seen.append(await asyncio.wait_for(self.events.get(), left))
            except TimeoutError:
                break
        return seen


async def _pump(service: ChatService, queue: asyncio.Queue[ServiceEvent]) -> None:
    async for event in service.events():
        queue.put_nowait(event)


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=["fake", pytest.param("real", marks=[pytest.mark.prosody, pytest.mark.slow])],
)
async def side(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Side]:
    """Our service (the fake, or the real one over Prosody with a real contact)."""
    if request.param == "fake":
        fake = FakeService()
        made = Side(
            "fake",
            fake,
            BOB,
            "nobody@example.net",
            lambda: f"room-{secrets.token_hex(4)}@rooms.example.org",
            fake=fake,
        )
        pump = asyncio.create_task(_pump(fake, made.events))
        yield made
        pump.cancel()
        return
    prosody: ProsodyServer = request.getfixturevalue("prosody")
    async with _real_side(prosody, tmp_path_factory.mktemp("contract")) as made:
        yield made


class _RealSide:
    """Two real services over Prosody, subscribed to each other (an async context)."""

    def __init__(self, prosody: ProsodyServer, directory: Path) -> None:
        self._prosody = prosody
        self._directory = directory
        self._peers: list[Peer] = []
        self._pump: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Side:
        prosody, directory = self._prosody, self._directory
        ours, theirs = prosody.create_account(), prosody.create_account()
        await subscribe_both(
            prosody, Account(*ours, directory / "a"), Account(*theirs, directory / "b")
        )
        keyring = DictKeyring()
        contact = await start_peer(prosody, keyring, directory / "contact", theirs)
        self._peers.append(contact)
        alice = await start_peer(
            prosody, keyring, directory / "ours", ours, start=False, pump=False
        )  # the Side drains our events itself
        self._peers.append(alice)
        made = Side(
            "real",
            alice.service,
            contact.jid,
            prosody.create_account()[0],
            lambda: f"room-{secrets.token_hex(4)}@{prosody.muc_domain}",
            peer=contact,
        )
        self._pump = asyncio.create_task(_pump(alice.service, made.events))
        await alice.service.start()
        await alice.service.refresh_device_list(contact.jid)
        await contact.service.refresh_device_list(alice.jid)
        return made

    async def __aexit__(self, *_exc: object) -> None:
        if self._pump is not None:
            self._pump.cancel()
        for peer in reversed(self._peers):
            await peer.stop()


def _real_side(prosody: ProsodyServer, directory: Path) -> _RealSide:
    return _RealSide(prosody, directory)


__all__ = ["MessageReceived", "Side", "side"]
