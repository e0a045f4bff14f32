"""What leaves the stream: the last filter before the socket, and stream-management acks.

`Outgoing.filter` is slixmpp's last outgoing filter (stream management counted the stanza
already): a message handed over by `write_own` is written here, serialized by
`messages.serialize` instead of slixmpp (~0.3 ms less per 1 KB message); an `<r/>` of `acked`
takes its count. Nothing is written into a connection that is gone (`dead_stream`): the stanza
waits for the resumption, and the loss itself is the `disconnected` event.

`acked` is how `XmppClient.ping` knows the server has everything sent so far (XEP-0198 `<a h>`
covering the count of the `<r/>`); counts wrap at 2**32.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import slixmpp
from slixmpp.plugins.xep_0198.stanza import RequestAck

from tui_omemo.xmpp import dead_stream
from tui_omemo.xmpp.messages import serialize

SM = "urn:xmpp:sm:3"
_SEQ_MOD = 2**32


class Outgoing:
    """The outgoing side of one `XmppClient`'s streams.

    Args:
        current: the client's current stream (None before connecting or after closing); a
            stanza without a stream of its own goes there.
    """

    def __init__(self, current: Callable[[], slixmpp.ClientXMPP | None]) -> None:
        self._current = current
        self._ack_waiters: list[tuple[int, asyncio.Future[None]]] = []
        """`ping`s waiting for the server to ack up to a stanza count (XEP-0198)."""
        self._ack_requests: dict[int, tuple[Any, asyncio.Future[None]]] = {}
        """`ping`s whose `<r/>` waits in slixmpp's send queue (by id of the request, which is
        held here so that its id stays its own)."""
        self._own_writes: dict[int, Any] = {}
        """Messages in slixmpp's send queue that `filter` writes (held, by id)."""

    def write_own(self, message: Any) -> None:
        """`message` (a slixmpp stanza about to be sent) is written by `filter`, serialized
        by `messages.serialize`."""
        self._own_writes[id(message)] = message

    def retire(self) -> None:
        """The stream is replaced or closed: what waited on it is dropped (the waiters'
        counts were of that stream; their callers fail through `NotConnected`)."""
        self._ack_waiters = []
        self._ack_requests = {}
        self._own_writes = {}

    def acked(self, xmpp: slixmpp.ClientXMPP) -> asyncio.Future[None]:
        """Resolved once the server acks every stanza handed to the stream so far. The `<r/>`
        queues behind them (`filter` counts when it leaves), or is dropped when the
        server already acked them all."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        request = RequestAck(xmpp)
        self._ack_requests[id(request)] = (request, waiter)
        xmpp.send(request)
        return waiter

    def filter(self, stanza: Any) -> Any:
        """slixmpp's `out_sync` filter: write our own messages, count `<r/>`s, hold what
        cannot be written (see the module docstring)."""
        key = id(stanza)
        own = self._own_writes.pop(key, None) is stanza
        entry = self._ack_requests.pop(key, None)
        if entry is not None and entry[0] is stanza and not self._ack_request_out(stanza, entry[1]):
            return None
        stream = stanza.stream or self._current()  # its own stream, even while we close
        if stream is None:
            return stanza
        if not dead_stream.writable(stream, stanza):
            dead_stream.keep_for_resumption(stream, stanza)
            return None  # slixmpp logs "not sent" at debug level and moves on
        data = serialize(stanza.xml) if own else None
        if data is None:
            return stanza
        stream.send_raw(data)
        return None

    def _ack_request_out(self, stanza: Any, waiter: asyncio.Future[None]) -> bool:
        """An `<r/>` of `acked` leaves: it waits for the count sent so far; False when
        it need not go (the server acked everything already, or nobody waits any more)."""
        plugins: Any = stanza.stream.plugin
        sm = plugins["xep_0198"]
        target = int(sm.seq)
        if waiter.done():  # given up meanwhile
            return False
        if covers(int(sm.last_ack), target):
            waiter.set_result(None)
            return False
        self._ack_waiters.append((target, waiter))
        return True

    def ask_again(self, xmpp: slixmpp.ClientXMPP) -> None:
        """After a resumption: the `<resumed h>` may cover waiting `ping`s; for the others
        the `<r/>` may have been lost with the old connection, so one more is queued (behind
        the stanzas slixmpp sends again)."""
        plugins: Any = xmpp.plugin
        self._on_handled(int(plugins["xep_0198"].last_ack))
        if self._ack_waiters:
            xmpp.send(RequestAck(xmpp))

    def on_ack(self, ack: Any) -> None:
        """An `<a h=…/>`: wake the waiters it covers."""
        handled = ack.xml.get("h", "")
        if handled.isdigit():
            self._on_handled(int(handled))

    def _on_handled(self, handled: int) -> None:
        waiting = []
        for target, waiter in self._ack_waiters:
            if waiter.done():
                continue
            if covers(handled, target):
                waiter.set_result(None)
            else:
                waiting.append((target, waiter))
        self._ack_waiters = waiting


def restart_counts(xmpp: slixmpp.ClientXMPP) -> None:
    """A bound resource is a fresh session: XEP-0198 counts start again at 0. slixmpp resets
    its count of sent stanzas only when a resumption fails, not when a stream without a
    resumable id is replaced, and then takes the server's acks for inconsistent."""
    plugins: Any = xmpp.plugin
    sm = plugins["xep_0198"]
    sm.seq = sm.last_ack = sm.handled = 0
    sm.unacked_queue.clear()


def covers(handled: int, target: int) -> bool:
    """True when an XEP-0198 count `handled` includes stanza number `target` (counts wrap
    at 2**32)."""
    return (handled - target) % _SEQ_MOD < _SEQ_MOD // 2
