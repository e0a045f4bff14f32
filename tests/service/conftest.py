"""Fixtures for the service tests: our real service over the real Prosody fixture.

`make_peer` opens a fresh SQLCipher profile (key in an in-memory keyring), logs an `XmppClient`
in over loopback (no presence: the service sends it), builds `OmemoChatService` over an
`XmppTransport` and a `RoomClient` on top (as `commands/runtime.py` does) and starts it. Every
outgoing stanza is recorded as XML text in `Peer.sent`, so tests can assert on what actually
left the process. `Peer.stop()` ends exactly what was started (service, client, database).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from devtools.fake_transport import FakeNetwork, FakeTransport
from tests.prosody import ProsodyServer
from tests.store.conftest import DictKeyring
from tui_omemo.config import Settings
from tui_omemo.model import Namespace
from tui_omemo.service.api import (
    ConnectionChanged,
    Delivery,
    MessageDelivered,
    MessageReceived,
    ServiceEvent,
)
from tui_omemo.service.app_service import OmemoChatService
from tui_omemo.service.ports import Transport
from tui_omemo.service.state import state_digest
from tui_omemo.store import Database, KeyringKeys, open_profile
from tui_omemo.xmpp.client import Pause, XmppClient, backoff_pause
from tui_omemo.xmpp.rooms import RoomClient
from tui_omemo.xmpp.transport import XmppTransport

TIMEOUT = 15.0
_E = TypeVar("_E", bound=ServiceEvent)


@dataclass(kw_only=True)
class ServicePeer:
    """One running account: service, transport and database (over Prosody: `Peer`; over the
    fake transport: this class, from `make_fake_peer`)."""

    jid: str
    password: str
    directory: Path
    keys: KeyringKeys
    database: Database
    transport: Transport
    service: OmemoChatService
    events: asyncio.Queue[ServiceEvent] = field(default_factory=asyncio.Queue)
    _pump: asyncio.Task[None] | None = None

    def start_pump(self) -> None:
        async def pump() -> None:
            async for event in self.service.events():
                self.events.put_nowait(event)

        self._pump = asyncio.create_task(pump())

    async def next_message(self) -> MessageReceived:
        """The next MessageReceived event (other events are skipped), within TIMEOUT."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                event = await self.events.get()
                if isinstance(event, MessageReceived):
                    return event

    async def next_event(self, kind: type[_E]) -> _E:
        """The next event of `kind` within TIMEOUT; other events stay queued, in order."""
        others: list[ServiceEvent] = []
        try:
            async with asyncio.timeout(TIMEOUT):
                while True:
                    event = await self.events.get()
                    if isinstance(event, kind):
                        return event
                    others.append(event)
        finally:
            for event in others:
                self.events.put_nowait(event)

    def drain_events(self) -> list[ServiceEvent]:
        """Every event queued so far."""
        events = []
        while not self.events.empty():
            events.append(self.events.get_nowait())
        return events

    async def digest(self) -> str:
        """A hash of the whole OMEMO state in the store."""
        return await self.service.runner.read(state_digest)

    async def stop(self) -> None:
        """Stop the service, leave the network, close the database."""
        if self._pump is not None:
            self._pump.cancel()
        await self.service.close()
        await self._disconnect()
        self.database.close()

    async def _disconnect(self) -> None:
        if isinstance(self.transport, FakeTransport):
            self.transport.disconnect()


@dataclass(kw_only=True)
class Peer(ServicePeer):
    """One running account over Prosody: also its client and what it sent.

    `client` is the slixmpp stream under `xmpp` (tests send raw XML and cut the socket there).
    """

    client: Any
    xmpp: XmppClient
    transport: XmppTransport
    sent: list[str] = field(default_factory=list)

    async def _disconnect(self) -> None:
        await self.xmpp.disconnect()


PeerFactory = Callable[..., Awaitable[Peer]]
ServicePeerFactory = Callable[..., Awaitable[ServicePeer]]


async def use_version(namespace: Namespace, *peers: Peer) -> None:
    """Set every chat between `peers` to `namespace`."""
    for peer in peers:
        for other in peers:
            if other is not peer:
                await peer.service.set_chat_version(other.jid, namespace)


async def exchange(alice: Peer, bob: Peer, text: str) -> None:
    """Alice sends `text`, Bob gets it next and answers "`text`, back", Alice gets that next."""
    await alice.service.send(bob.jid, text)
    assert (await bob.next_message()).message.body == text
    await bob.service.send(alice.jid, f"{text}, back")
    assert (await alice.next_message()).message.body == f"{text}, back"


async def start_peer(
    prosody: ProsodyServer,
    keyring: DictKeyring,
    directory: Path,
    account: tuple[str, str] | None = None,
    *,
    settings: Settings | None = None,
    start: bool = True,
    resume: bool = True,
    pause: Pause = backoff_pause,
    port: int | None = None,
    pump: bool = True,
) -> Peer:
    """Open a profile in `directory`, log in over loopback (or through a relay on `port`)
    and build (and with `start`, start) our service; with `pump` its events go to
    `Peer.events`. The caller stops the peer."""
    jid, password = account or prosody.create_account()
    keys = KeyringKeys(keyring, service=f"tui-omemo-test-{directory.name}")
    database = await asyncio.to_thread(open_profile, directory, keys)
    xmpp = XmppClient(
        jid,
        password,
        host=prosody.host,
        port=port or prosody.port,
        allow_plaintext_loopback=True,
        resume=resume,
        pause=pause,
    )
    await xmpp.connect(TIMEOUT, announce=False)
    client = xmpp.stream
    transport = XmppTransport(xmpp)
    service = await OmemoChatService.create(database, transport, settings, rooms=RoomClient(xmpp))
    peer = Peer(
        jid=jid,
        password=password,
        directory=directory,
        keys=keys,
        database=database,
        client=client,
        xmpp=xmpp,
        transport=transport,
        service=service,
    )

    def record(stanza: Any) -> Any:
        peer.sent.append(str(stanza))
        return stanza

    client.add_filter("out", record)
    if pump:
        peer.start_pump()
    if start:
        await service.start()
    return peer


@pytest.fixture
async def make_peer(prosody: ProsodyServer, tmp_path: Path) -> AsyncIterator[PeerFactory]:
    """Start peers; all are stopped at the end of the test. A peer may connect through a
    relay (`port`)."""
    peers: list[Peer] = []
    keyring = DictKeyring()

    async def factory(
        account: tuple[str, str] | None = None,
        *,
        settings: Settings | None = None,
        directory: Path | None = None,
        start: bool = True,
        resume: bool = True,
        pause: Pause = backoff_pause,
        port: int | None = None,
    ) -> Peer:
        directory = directory or tmp_path / f"profile-{uuid.uuid4().hex[:8]}"
        peer = await start_peer(
            prosody,
            keyring,
            directory,
            account,
            settings=settings,
            start=False,
            resume=resume,
            pause=pause,
            port=port,
        )
        peers.append(peer)
        if start:
            await peer.service.start()
        return peer

    yield factory
    for peer in reversed(peers):
        await peer.stop()


@pytest.fixture
async def make_fake_peer(tmp_path: Path) -> AsyncIterator[ServicePeerFactory]:
    """Start peers over the fake transport (`devtools/fake_transport.py`, pinned to the real
    one by tests/contract/test_transport.py), all on one in-memory network: for the service
    tests that do not need the real XMPP wiring. All are stopped at the end of the test."""
    network = FakeNetwork()
    keyring = DictKeyring()
    peers: list[ServicePeer] = []

    async def factory(
        account: tuple[str, str] | None = None,
        *,
        settings: Settings | None = None,
        directory: Path | None = None,
        start: bool = True,
    ) -> ServicePeer:
        jid, password = account or (network.new_jid(), "fake")
        directory = directory or tmp_path / f"profile-{uuid.uuid4().hex[:8]}"
        keys = KeyringKeys(keyring, service=f"tui-omemo-test-{directory.name}")
        database = await asyncio.to_thread(open_profile, directory, keys)
        transport = network.transport(jid)
        service = await OmemoChatService.create(database, transport, settings)
        peer = ServicePeer(
            jid=jid,
            password=password,
            directory=directory,
            keys=keys,
            database=database,
            transport=transport,
            service=service,
        )
        peers.append(peer)
        peer.start_pump()
        if start:
            await service.start()
        return peer

    yield factory
    for peer in reversed(peers):
        await peer.stop()


# --- helpers of the reconnect and outbox tests ---------------------------------------------


async def delivered(peer: Peer) -> MessageDelivered:
    """The next server confirmation (MessageDelivered, sent) of `peer`; other events stay
    queued, the contact's receipts and markers (issue 17) are skipped."""
    while True:
        event = await peer.next_event(MessageDelivered)
        if event.delivery is Delivery.SENT:
            return event


async def all_delivered(peer: Peer, archive_ids: set[int]) -> None:
    """Wait for MessageDelivered of each of `archive_ids` (earlier messages' are skipped)."""
    seen: set[int] = set()
    while not archive_ids <= seen:
        seen.add((await delivered(peer)).archive_id)


async def delivery(peer: Peer, contact: str, archive_id: int) -> Delivery:
    """The delivery state of one message in the chat history."""
    page = await peer.service.history(contact, None, 50)
    return next(m.delivery for m in page.messages if m.archive_id == archive_id)


async def pending_count(peer: Peer) -> int:
    return await peer.service.runner.read(lambda uow: uow.outbox.count())


async def connection_change(peer: Peer) -> ConnectionChanged:
    """The next ConnectionChanged of `peer` (other events stay queued)."""
    return await peer.next_event(ConnectionChanged)


def cut(peer: Peer) -> None:
    """Kill the TCP connection under the peer's client, as a network failure would."""
    transport = peer.client.transport
    assert transport is not None
    transport.abort()
