"""Contacts in the roster: their subscription state in words, removing and naming one, and
following the server's roster pushes.

A push (RFC 6121 §2.1.6) comes when a contact answers our subscription request, or the
roster changes on another of our clients. The cached roster is replaced by the server's, each
changed contact gets a fresh roster row, and a contact we can now see is asked for its device
lists again: PEP nodes with the `presence` access model become readable only then, and the
device lists of a contact whose answer was pending were never pushed to us.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from tui_omemo.model import bare_jid
from tui_omemo.service.api import Subscription
from tui_omemo.service.ports import Transport, TransportError
from tui_omemo.service.runner import DbRunner
from tui_omemo.store import RosterItem, UnitOfWork

SEES_THEM = frozenset({Subscription.TO, Subscription.BOTH})
"""States in which the contact's presence (and presence-only PEP nodes) reach us."""


def subscription_of(word: str) -> Subscription:
    """The state of a cached roster item (`none` for a word we do not know)."""
    try:
        return Subscription(word)
    except ValueError:
        return Subscription.NONE


class Contacts:
    """Roster changes of one account, over its transport and store."""

    def __init__(
        self,
        *,
        transport: Transport,
        runner: DbRunner,
        own_jid: str,
        changed: Callable[[str], Awaitable[None]],
        refresh_devices: Callable[[str], Awaitable[None]],
    ) -> None:
        self._transport = transport
        self._runner = runner
        self._own_jid = own_jid
        self._changed = changed
        self._refresh_devices = refresh_devices

    async def remove(self, jid_: str) -> None:
        """Remove a contact from the server roster (which ends both subscriptions) and from
        the cached one; history and trust decisions stay.

        Raises:
            TransportError: the server refused or did not answer.
        """
        jid = bare_jid(jid_)
        await self._transport.remove_contact(jid)
        await self._runner.write(lambda uow: uow.roster.remove(jid))

    async def rename(self, jid_: str, name: str) -> None:
        """Give a contact a roster name (empty: none).

        Raises:
            KeyError: `jid_` is not a contact.
            TransportError: the server refused or did not answer.
        """
        jid = bare_jid(jid_)
        name = " ".join(name.split())
        item = await self._runner.read(lambda uow: _item(uow, jid))
        if item is None:
            raise KeyError(f"{jid} is not a contact")
        await self._transport.rename_contact(jid, name, item.groups)
        renamed = RosterItem(jid, name or None, item.subscription, item.groups)
        await self._runner.write(lambda uow: uow.roster.upsert(renamed))
        await self._changed(jid)

    async def pushed(self) -> None:
        """The server's roster changed: cache it, announce the changed rows, and fetch the
        device lists of contacts we can see now and could not before."""
        with contextlib.suppress(TransportError):
            fresh = [
                item for item in await self._transport.roster() if item.bare_jid != self._own_jid
            ]
            old = {
                item.bare_jid: item
                for item in await self._runner.read(lambda uow: uow.roster.all())
            }
            await self._runner.write(lambda uow: uow.roster.replace_all(fresh))
            for item in fresh:
                before = old.get(item.bare_jid)
                if before == item:
                    continue
                now_sees = subscription_of(item.subscription) in SEES_THEM
                if now_sees and (
                    before is None or subscription_of(before.subscription) not in SEES_THEM
                ):
                    with contextlib.suppress(TransportError):
                        await self._refresh_devices(item.bare_jid)
                await self._changed(item.bare_jid)


def _item(uow: UnitOfWork, jid: str) -> RosterItem | None:
    return next((item for item in uow.roster.all() if item.bare_jid == jid), None)
