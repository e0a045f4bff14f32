"""Where a MAM catch-up ends: at the archive as it was when we came online. Prosody archives
the receipts we send (one per message the catch-up processes) after everything that was
waiting; a catch-up that paged on through them read its own output, twice the results and
server queries of the messages it was there for (`benchmarks/e2e.py`, 1,000 messages)."""

from __future__ import annotations

from typing import Any

from tests.service.conftest import PeerFactory, exchange, use_version
from tui_omemo.model import Namespace
from tui_omemo.service.ports import MamPage

WAITING = 12
PAGE = 4


async def test_catch_up_stops_at_the_first_page_holding_a_receipt_it_sent(
    make_peer: PeerFactory,
) -> None:
    """Bob comes back to 12 messages, 4 per page: every message arrives once, and the
    catch-up stops at the first page that holds one of the receipts Bob sent since coming
    online (it does not page on through them)."""
    alice = await make_peer()
    bob = await make_peer()
    await use_version(Namespace.V2, alice, bob)
    await exchange(alice, bob, "before the break")
    await bob.stop()
    for n in range(WAITING):
        await alice.service.send(bob.jid, f"while away {n}")
    bob2 = await make_peer((bob.jid, bob.password), directory=bob.directory, start=False)
    catch_up: Any = bob2.service._catch_up
    catch_up._page_size = PAGE
    pages: list[MamPage] = []
    fetch = bob2.transport.mam_page

    async def recorded(after: str | None, max_items: int) -> MamPage:
        page = await fetch(after, max_items)
        pages.append(page)
        return page

    bob2.transport.mam_page = recorded  # type: ignore[method-assign]
    await bob2.service.start()
    bodies = {(await bob2.next_message()).message.body for _ in range(WAITING)}
    assert bodies == {f"while away {n}" for n in range(WAITING)}
    ours = [
        any(bob2.transport.sent_since_online(m.sender, m.message_id) for m in page.messages)
        for page in pages
    ]
    assert ours[-1]
    assert not any(ours[:-1])
