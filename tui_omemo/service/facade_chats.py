"""The chats part of `OmemoChatService`: the roster with its summaries, history, sending,
search and contacts (`app_service.py` composes it with the other parts)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from tui_omemo.model import Namespace, TrustLevel, bare_jid
from tui_omemo.protocol.trust import TrustMode
from tui_omemo.service.api import (
    ChatSecurity,
    ChatSummary,
    HistoryPage,
    Presence,
    RosterChanged,
    SearchHit,
    SendReport,
)
from tui_omemo.service.chat_badge import contact_security
from tui_omemo.service.contacts import subscription_of
from tui_omemo.service.devices import latest_identities
from tui_omemo.service.facade_base import FacadeParts
from tui_omemo.service.ports import TransportError
from tui_omemo.service.session import ChatPrefs, prefs_key, to_chat_message
from tui_omemo.store import PageCursor, RosterItem, UnitOfWork


class ChatsFacade(FacadeParts):
    """Chats and contacts: summaries, history, send, search, the roster."""

    async def chats(self) -> Sequence[ChatSummary]:
        """The roster: contacts, then joined rooms, with unread counts and security badges."""
        items = await self._runner.read(lambda uow: uow.roster.all())
        rows = [await self._summary(item.bare_jid, item.name, item.subscription) for item in items]
        known = {item.bare_jid for item in items}
        for jid in sorted(self.social.requesters() - known):  # asking to see our presence
            rows.append(await self._summary(jid, None, "none", in_roster=False))
        if self.groups is not None:
            rows.extend(await self.groups.summaries())
        return rows

    async def chat_summary(self, jid: str) -> ChatSummary:
        """One chat's summary, in the roster or not (then its device lists are fetched first
        and `in_roster` is False)."""
        jid = bare_jid(jid)
        if self.groups is not None and jid in self.groups.joined_rooms():
            return await self.groups.summary(jid)
        item = await self._roster_item(jid)
        if item is None:
            with contextlib.suppress(TransportError):
                await self.refresh_device_list(jid)
            return await self._summary(jid, None, "none", in_roster=False)
        return await self._summary(jid, item.name, item.subscription)

    async def _roster_item(self, jid: str) -> RosterItem | None:
        items = await self._runner.read(lambda uow: uow.roster.all())
        return next((item for item in items if item.bare_jid == jid), None)

    async def _summary(
        self, jid: str, name: str | None, subscription: str = "both", *, in_roster: bool = True
    ) -> ChatSummary:
        mode = TrustMode(self._settings.trust_mode)

        def read(uow: UnitOfWork) -> tuple[ChatPrefs, list[Namespace], list[TrustLevel]]:
            prefs = ChatPrefs.from_json(uow.settings.get(prefs_key(jid)))
            devices = [record for record in uow.devices.of(jid) if record.active]
            namespaces = sorted({record.namespace for record in devices})
            active_ids = {record.device_id for record in devices}
            levels = [
                record.trust
                for record in latest_identities(uow.trust.identities(jid))
                if record.device_id in active_ids
            ]
            return prefs, namespaces, levels

        prefs, namespaces, levels = await self._runner.read(read)
        omemo = prefs.version or (
            Namespace.V2 if Namespace.V2 in namespaces else Namespace.LEGACY if namespaces else None
        )
        if not namespaces:
            security = ChatSecurity.PLAINTEXT_CHOSEN if prefs.plaintext else ChatSecurity.NO_OMEMO
        else:
            security = contact_security(levels, mode)
        presence = self._presence(jid)
        return ChatSummary(
            jid,
            name or jid,
            False,
            presence,
            self.session.unread.get(jid, 0),
            security,
            omemo,
            subscription=subscription_of(subscription),
            in_roster=in_roster,
            status_text=self.social.status_text(jid),
            asks_subscription=self.social.asks(jid),
        )

    def _presence(self, jid: str) -> Presence:
        return self._transport.presence(jid)

    async def _refresh_roster(self) -> None:
        with contextlib.suppress(TransportError):
            items = list(await self._transport.roster())
            own = self.own_jid
            await self._runner.write(
                lambda uow: uow.roster.replace_all([item for item in items if item.bare_jid != own])
            )

    async def history(self, peer: str, before: int | None, limit: int) -> HistoryPage:
        """Messages older than archive id `before` (None: newest), oldest first."""
        peer = bare_jid(peer)

        def read(uow: UnitOfWork) -> HistoryPage:
            cursor = None
            if before is not None:
                row = uow.archive.get(before)
                if row is None:
                    return HistoryPage((), None)
                cursor = PageCursor(row.seq, row.id)
            page = uow.archive.page(peer, cursor, limit)
            messages = tuple(to_chat_message(row) for row in reversed(page.messages))
            older = page.messages[-1].id if page.older is not None and page.messages else None
            return HistoryPage(messages, older)

        return await self._runner.read(read)

    async def send(self, peer: str, text: str, *, allow_plaintext: bool = False) -> SendReport:
        """Encrypt and send (raises `SendFailed` when nothing was sent)."""
        return await self.session.send_text(peer, text, allow_plaintext=allow_plaintext)

    async def confirm_sent(self, within: float) -> int:
        """Wait for the server to confirm every message handed to it so far (a ping round
        trip) and mark them sent; how many were confirmed.

        Raises:
            TransportError: no confirmation within `within` seconds; they stay pending.
        """
        return await self.session.outbox.confirm(within)

    async def set_chat_version(self, peer: str, version: Namespace | None) -> None:
        """Force an OMEMO version for one chat (None: automatic)."""
        prefs = await self.session.prefs(bare_jid(peer))
        await self.session.set_prefs(bare_jid(peer), ChatPrefs(prefs.plaintext, version))

    async def _roster_changed(self, jid: str) -> None:
        if self.groups is not None and jid in self.groups.joined_rooms():
            summary = await self.groups.summary(jid)
            if not self.groups.has_left(jid):  # left while the summary was read
                self._events.put_nowait(RosterChanged(summary))
            return
        if self.groups is not None and self.groups.has_left(jid):
            return  # a room's late update (e.g. its last message's unread count) after leaving
        item = await self._roster_item(jid)
        if item is None:
            self._events.put_nowait(
                RosterChanged(await self._summary(jid, None, "none", in_roster=False))
            )
            return
        self._events.put_nowait(
            RosterChanged(await self._summary(jid, item.name, item.subscription))
        )

    async def search(self, text: str, peer: str | None = None) -> Sequence[SearchHit]:
        """Full-text search over the archive (failure rows have no text and never match)."""
        hits = await self._runner.read(
            lambda uow: uow.archive.search(text, None if peer is None else bare_jid(peer))
        )
        return [SearchHit(to_chat_message(hit.message), hit.snippet_text) for hit in hits]

    async def add_contact(self, bare_jid_: str) -> None:
        """Add a contact, ask for presence, and learn its devices and fingerprints."""
        jid = bare_jid(bare_jid_)
        await self._transport.add_contact(jid)
        await self._runner.write(lambda uow: uow.roster.upsert(RosterItem(jid, None, "pending")))
        with contextlib.suppress(TransportError):
            await self.refresh_device_list(jid)
        await self._roster_changed(jid)

    async def answer_subscription(self, bare_jid_: str, allow: bool, add: bool) -> None:
        """Answer a request to see our presence (see `service.social`); `add` also adds the
        contact back (which allows it)."""
        jid = bare_jid(bare_jid_)
        if add:
            self.social.forget(jid)
            await self.add_contact(jid)
            return
        self.social.answer(jid, allow)
        await self._roster_changed(jid)

    async def remove_contact(self, bare_jid_: str) -> None:
        """Remove a contact and both subscriptions (see `service.contacts`)."""
        await self._contacts.remove(bare_jid_)

    async def rename_contact(self, bare_jid_: str, name: str) -> None:
        """Give a contact a roster name (see `service.contacts`)."""
        await self._contacts.rename(bare_jid_, name)

    async def mark_read(self, peer: str) -> None:
        """Set a chat's unread count to zero (the chat is on screen: a displayed marker)."""
        jid = bare_jid(peer)
        self.session.unread[jid] = 0
        await self._roster_changed(jid)
        await self.receipts.displayed(jid)  # issue 17: the chat is on screen
