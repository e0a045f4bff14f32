"""XMPP test helpers: `online` and `make_client`, factories of connected `XmppClient`s on fresh
Prosody accounts (`QueueClient`s: incoming messages wait for `next_message`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from devtools.queue_client import QueueClient
from tests.prosody import ProsodyServer

Online = Callable[..., Awaitable[QueueClient]]
Make = Callable[..., Awaitable[QueueClient]]
CONNECT_TIMEOUT = 30.0


@pytest.fixture
async def online(prosody: ProsodyServer) -> AsyncIterator[Online]:
    """`await online()` → a connected client on a new account; `await online(jid=…, password=…)`
    → a second connection (another resource) of an existing account. All are closed afterwards."""
    clients: list[QueueClient] = []

    async def connect(jid: str | None = None, password: str | None = None) -> QueueClient:
        if jid is None or password is None:
            jid, password = prosody.create_account()
        client = QueueClient(
            jid, password, host=prosody.host, port=prosody.port, allow_plaintext_loopback=True
        )
        clients.append(client)
        await client.connect(within=15)
        return client

    yield connect
    for client in clients:
        await client.disconnect()


@pytest.fixture
async def make_client(prosody: ProsodyServer) -> AsyncIterator[Make]:
    """Connected clients on fresh accounts (keyword arguments go to `XmppClient`, e.g. a
    `pause` gate or `resume=False`); all are closed afterwards."""
    clients: list[QueueClient] = []

    async def make(**options: Any) -> QueueClient:
        jid, password = prosody.create_account()
        client = QueueClient(
            jid,
            password,
            host=prosody.host,
            port=prosody.port,
            allow_plaintext_loopback=True,
            **options,
        )
        clients.append(client)
        await client.connect(within=CONNECT_TIMEOUT)
        return client

    yield make
    for client in clients:
        await client.disconnect()
