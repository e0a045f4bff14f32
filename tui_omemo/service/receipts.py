"""Delivery receipts (XEP-0184) and displayed markers (XEP-0333): issue 17.

Out: every 1:1 message we send asks for a receipt and is markable (`xmpp/receipts.py`; room
messages ask for neither). A receipt is answered only for a message we decrypted AND archived,
after its unit of work committed (`answer`, called by the inbound pipeline once the row is
read back): a crash before the commit leaves the stanza in the inbox and sends nothing; the
receipt follows when it is processed again. Receipts are not sent for carbons (the device that
received the message answers) nor in rooms. A displayed marker for the newest
markable message of a chat goes out when the chat is on screen (`displayed`, from `mark_read`)
and the `send_displayed_markers` setting is on; each message is marked once.

In: a receipt or marker is accepted only from the bare JID of the contact a message of ours
with that id went to (1:1); it raises the row's delivery (received, then read; never back) and
emits `MessageDelivered` with the new state. Anything else is ignored with a security event.
Our own displayed markers, sent by another device of ours and carbon-copied to us (or, in a
room, reflected from our nick), lower the chat's unread count instead
(`service/read_elsewhere.py`), never a delivery state.
Receipts and markers travel outside the encryption (they carry no content), as every OMEMO 0.3
client sends them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from tui_omemo.config import Settings
from tui_omemo.events import SecurityEventKind
from tui_omemo.model import AckKind, Acknowledgement, Arrival, bare_jid
from tui_omemo.service.api import Delivery, MessageDelivered, SecurityEventRaised, ServiceEvent
from tui_omemo.service.clock import now_ms
from tui_omemo.service.ports import Inbound, Transport, TransportError
from tui_omemo.service.read_elsewhere import ReadElsewhere
from tui_omemo.service.runner import DbRunner
from tui_omemo.service.trust import PendingEvent, record_event
from tui_omemo.store import ArchivedMessage, Direction, UnitOfWork
from tui_omemo.store.delivery import MARKABLE_FLAG, RECEIPT_FLAG

log = logging.getLogger(__name__)

_LEVELS = {AckKind.RECEIVED: Delivery.RECEIVED, AckKind.DISPLAYED: Delivery.READ}
_ANSWERED = (Arrival.LIVE, Arrival.OFFLINE, Arrival.MAM)
"""Arrivals whose receipt requests we answer: not carbons (the device that got the message
answers). Our own archive's results are answered: a message fetched by catch-up may be the
only copy this device processes (the offline copy is then a duplicate)."""


def request_flags(inbound: Inbound, room: str | None) -> dict[str, object]:
    """The archive flags of an incoming 1:1 message that asks for a receipt / is markable."""
    if room is not None or inbound.message_type == "groupchat":
        return {}
    flags: dict[str, object] = {}
    if inbound.receipt and inbound.arrival in _ANSWERED and inbound.message_id:
        flags[RECEIPT_FLAG] = True
    if inbound.markable and inbound.arrival is not Arrival.CARBON_SENT:
        flags[MARKABLE_FLAG] = True
    return flags


def answer(transport: Transport, row: ArchivedMessage) -> None:
    """Send the receipt a committed incoming row asked for (a lost receipt, never a false one:
    when the stream is down it is not sent)."""
    if row.direction is not Direction.IN or row.room is not None or not row.message_id:
        return
    if not row.flags.get(RECEIPT_FLAG) or row.flags.get("failure"):
        return
    try:
        transport.send_acknowledgement(row.sender_bare_jid, AckKind.RECEIVED, row.message_id)
    except TransportError as error:
        log.info("a delivery receipt was not sent: %s", type(error).__name__)


class Receipts:
    """Incoming receipts and markers checked and recorded; our displayed markers sent.

    Args:
        transport: the XMPP side (its acknowledgement handler is set here).
        runner: the DB thread.
        settings: the current settings.
        emit: where `MessageDelivered` and security events go.
        spawn: runs a coroutine in the background (the service's task set).
        elsewhere: where our other devices' displayed markers go (`service/read_elsewhere.py`).
    """

    def __init__(
        self,
        transport: Transport,
        runner: DbRunner,
        settings: Callable[[], Settings],
        emit: Callable[[ServiceEvent], None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        *,
        elsewhere: ReadElsewhere | None = None,
    ) -> None:
        self._transport = transport
        self._elsewhere = elsewhere
        self._runner = runner
        self._settings = settings
        self._emit = emit
        self._spawn = spawn
        self._order = asyncio.Lock()
        self._waiting: list[Acknowledgement] = []
        """Acknowledgements arrived and not yet handed to a check (`_accept_waiting`)."""
        transport.set_acknowledgement_handler(self.on_acknowledgement)

    def on_acknowledgement(self, ack: Acknowledgement) -> None:
        """A receipt or marker arrived (on the event loop): checked in the background, with
        the others that arrive before that check starts (one unit of work for them all)."""
        self._waiting.append(ack)
        if len(self._waiting) == 1:
            self._spawn(self._accept_waiting())

    async def _accept_waiting(self) -> None:
        async with self._order:  # a receipt and a marker in a row: the marker wins
            batch, self._waiting = self._waiting, []
            if len(batch) > 1 and await self._accepted(batch):
                return
            for ack in batch:  # one at a time, so that one bad mark loses only itself
                await self._accepted([ack])

    async def _accepted(self, acks: list[Acknowledgement]) -> bool:
        try:
            await self.accept_all(acks)
        except Exception as error:  # a closing service, a store error: the marks are lost
            log.info("a receipt was not recorded: %s", type(error).__name__)
            return False
        return True

    async def accept_all(self, acks: list[Acknowledgement]) -> None:
        """Raise our messages' delivery, or record a security event for each forged one:
        one unit of work for them all, then what each changed is emitted in order."""
        own = bare_jid(self._transport.own_bare_jid)
        # our own devices' markers (and a room's): read elsewhere, never a delivery state
        ours = [ack.chat is not None or bare_jid(ack.sender) == own for ack in acks]
        for ack, mine in zip(acks, ours, strict=True):
            if mine and self._elsewhere is not None:
                await self._elsewhere.apply(ack)
        checks = [_Check(ack, own) for ack, mine in zip(acks, ours, strict=True) if not mine]
        if not checks:
            return
        now = now_ms()

        def commit(uow: UnitOfWork) -> list[ServiceEvent]:
            return [event for check in checks if (event := check.record(uow, now)) is not None]

        for event in await self._runner.write(commit):
            self._emit(event)

    async def displayed(self, peer: str) -> None:
        """The chat with `peer` is on screen: mark its newest markable message displayed
        (once), when the setting is on."""
        if not self._settings().send_displayed_markers:
            return
        jid = bare_jid(peer)
        found = await self._runner.read(lambda uow: uow.deliveries.undisplayed(jid))
        if found is None:
            return
        archive_id, message_id = found
        try:
            self._transport.send_acknowledgement(jid, AckKind.DISPLAYED, message_id)
        except TransportError:
            return  # offline: the next time the chat is on screen
        await self._runner.write(lambda uow: uow.deliveries.displayed(archive_id))


class _Check:
    """One incoming acknowledgement of `peer`, checked against the messages we sent them.

    Args:
        ack: the receipt or marker.
        own: our bare JID (the dedupe keys of our sent messages are kept under it).
    """

    def __init__(self, ack: Acknowledgement, own: str) -> None:
        self.peer = bare_jid(ack.sender)
        self.kind = ack.kind
        self.level = _LEVELS[ack.kind]
        self.keys = (f"oid:{own}:{ack.message_id}", f"mid:{own}:{ack.message_id}")

    def record(self, uow: UnitOfWork, now: int) -> ServiceEvent | None:
        """Raise the delivery (the event when it rose), or record a forged acknowledgement
        (its security event)."""
        archive_id = uow.deliveries.ours(self.peer, self.keys)
        if archive_id is None:
            what = "receipt" if self.kind is AckKind.RECEIVED else "displayed marker"
            event = PendingEvent(
                SecurityEventKind.FORGED_ACKNOWLEDGEMENT,
                self.peer,
                None,
                f"a {what} from {self.peer} for a message we never sent to {self.peer}; ignored",
            )
            return SecurityEventRaised(record_event(uow, event, now).public())
        if uow.deliveries.raise_to(archive_id, self.level.value):
            return MessageDelivered(archive_id, self.peer, self.level)
        return None
