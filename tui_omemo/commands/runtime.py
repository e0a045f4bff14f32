"""The running application of one command: profile → XMPP client → `OmemoChatService`.

`online(options, console)` is the composition root's async half: it opens the profile, reads
the account and its pins (`commands.security`), logs in (TLS unless the account allows plaintext
to loopback; the strongest login mechanism used is remembered), builds the XMPP side of the
service's ports (`xmpp.transport.XmppTransport` and `xmpp.rooms.RoomClient` on the one client)
and hands them with the store to the service (`OmemoChatService.create`), starts it (inbox
left by a crash, own keys published, MAM catch-up, live) and, on the way out, stops the
service, logs out and closes the database — also when the command is cancelled.
`server_has_everything` waits for a ping round trip: the server handles a stream's stanzas in
order, so its answer means everything sent before it has arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from tui_omemo.commands import frontends
from tui_omemo.commands.console import CommandError, Console
from tui_omemo.commands.profile import ProfileOptions, open_database
from tui_omemo.commands.security import remember_mechanism, stream_security
from tui_omemo.service.app_service import OmemoChatService
from tui_omemo.service.profiles import Account, Database
from tui_omemo.xmpp.client import XmppClient
from tui_omemo.xmpp.errors import TransportError
from tui_omemo.xmpp.rooms import RoomClient
from tui_omemo.xmpp.secure import StreamSecurity
from tui_omemo.xmpp.transport import XmppTransport

DEFAULT_PORT = 5222
CONNECT_TIMEOUT = 20.0
LOGOUT_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Online:
    """A started service and the client under it."""

    service: OmemoChatService
    client: XmppClient
    account: Account


def read_account(database: Database) -> Account:
    """The profile's account.

    Raises:
        CommandError: the profile has no account, or no password to log in with.
    """
    with database.snapshot() as uow:
        account = uow.account.get()
    if account is None:
        raise CommandError(
            f"the profile {database.directory} has no account: run `tui-omemo account add JID`"
        )
    if not account.password:
        raise CommandError(
            f"no password is stored for {account.jid}: store one with "
            "`tui-omemo account set --password-stdin`"
        )
    return account


@contextlib.asynccontextmanager
async def online(
    options: ProfileOptions,
    console: Console,
    *,
    rooms: bool = True,
    database: Database | None = None,
) -> AsyncIterator[Online]:
    """Open the profile, log in and start the service; undo all of it on exit.

    Args:
        options: which profile.
        console: where prompts and messages go.
        rooms: rejoin the bookmarked rooms (`listen`, `muc`, the app); commands about one
            contact (`send`, `devices`, `trust`, …) pass False and skip the bookmarks query
            and the per-room joins and catch-ups.
        database: the profile, already open (the app opens it off the event loop while
            checking the passphrase); it is closed on exit like one opened here. None: open
            it here, off the event loop (the key derivation takes a noticeable fraction of
            a second).

    Raises:
        CommandError, StoreError: the profile cannot be opened or has no usable account.
        TransportError: the server cannot be reached or refuses the login.
    """
    if (served := frontends.borrowed_online()) is not None:
        yield served  # the running instance's service (commands.frontends)
        return
    if database is None:
        database = await asyncio.to_thread(open_database, options, console)
    try:
        account = read_account(database)
        with database.snapshot() as uow:
            security = stream_security(uow)
        client = await _connect(account, security)
        remember_mechanism(database, client.login_mechanism)
        try:
            service = await OmemoChatService.create(
                database, XmppTransport(client), rooms=RoomClient(client)
            )
            try:
                await service.start(rooms=rooms)
                yield Online(service, client, account)
            finally:
                await service.close()
        finally:
            await _logout(client)
    finally:
        database.close()


async def _connect(account: Account, security: StreamSecurity) -> XmppClient:
    """Log in without presence (`XmppTransport.go_online` sends it once the service listens,
    so the offline messages the server pushes then are not lost). An address where nobody
    listens fails at once with `ConnectionFailed`, not after CONNECT_TIMEOUT.

    Without a server of its own the account's domain is resolved (SRV records, then the
    domain itself); the loopback-plaintext switch connects to the domain (a loopback name)."""
    host = account.server_host
    if host is None and account.allow_plaintext_loopback:
        host = account.jid.partition("@")[2]
    port = account.server_port or DEFAULT_PORT
    client = XmppClient(
        account.jid,
        account.password or "",
        host=host,
        port=port,
        allow_plaintext_loopback=account.allow_plaintext_loopback,
        security=security,
    )
    await client.connect(CONNECT_TIMEOUT, announce=False)
    return client


async def _logout(client: XmppClient) -> None:
    """Close the stream politely, but never hang on a dead connection."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.disconnect(), LOGOUT_TIMEOUT)


async def server_has_everything(client: XmppClient, timeout: float) -> None:  # noqa: ASYNC109
    """Return once the server has everything sent so far (a ping round trip to it).

    Raises:
        TransportError: no answer within `timeout` seconds.
    """
    try:
        await client.ping(timeout)
    except TransportError as error:  # no answer, an error reply, no stream
        raise TransportError(
            f"the server did not confirm the message within {timeout:g} s"
        ) from error
