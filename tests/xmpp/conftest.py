"""XMPP test helpers: `online` and `make_client`, factories of connected `XmppClient`s on fresh
Prosody accounts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.prosody import ProsodyServer
from tui_omemo.xmpp.client import XmppClient

Online = Callable[..., Awaitable[XmppClient]]
Make = Callable[..., Awaitable[XmppClient]]
CONNECT_TIMEOUT = 30.0


@pytest.fixture
async def online(prosody: ProsodyServer) -> AsyncIterator[Online]:
    """`await online()` → a connected client on a new account; `await online(jid=…, password=…)`
    → a second connection (another resource) of an existing account. All are closed afterwards."""
    clients: list[XmppClient] = []

    async def connect(jid: str | None = None, password: str | None = None) -> XmppClient:
        if jid is None or password is None:
            jid, password = prosody.create_account()
        client = XmppClient(
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
    clients: list[XmppClient] = []

    async def make(**options: Any) -> XmppClient:
        jid, password = prosody.create_account()
        client = XmppClient(
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
