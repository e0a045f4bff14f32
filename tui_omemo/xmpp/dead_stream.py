"""Writing into a stream whose connection just died (DESIGN.md §3 invariant 10).

slixmpp's send queue hands stanzas to the last outgoing filter (`outgoing.Outgoing.filter`)
some time after they were queued. The TCP connection may be gone by then (`transport` None,
or closing after an abort or a failed `send()`), and slixmpp would then raise
`NotConnectedError` inside its send queue, log "Exception raised in send queue" and drop the
stanza (or, once a new connection is made, write it there before the login). Here such a write
is no write at all: the stanza is kept the way stream management
(XEP-0198) keeps any stanza the server has not acknowledged, so that

* a resumed stream gets it again (slixmpp resends the unacknowledged ones after the server's
  `<resumed h>` said which it already has: nothing the server counted goes twice), and
* a fresh session leaves it to the caller (the outbox sends its unconfirmed messages again).

slixmpp stops counting stanzas (`enabled_out`) as soon as the stream is disconnected; a stanza
still waiting in the queue then is counted here, exactly as slixmpp would have counted it.

A stream whose server stopped answering (a ping without an answer) is broken too, even though
its socket is open: `drop_silent` closes it, and forgets its resumption id, since resuming it
could only bring back the same silent session (seen with Prosody after a resumption whose
`<resumed h>` was below an `<a h>` it had sent before); a fresh session follows.
"""

from __future__ import annotations

import logging
from typing import Any

import slixmpp
from slixmpp.plugins.xep_0198.stanza import RequestAck

MAX_SEQ = 2**32
log = logging.getLogger(__name__)


def acked(xmpp: slixmpp.ClientXMPP) -> int:
    """The server's last count of our stanzas (XEP-0198 `h`), 0 without stream management."""
    plugins: Any = xmpp.plugin
    return int(plugins["xep_0198"].last_ack) if "xep_0198" in plugins else 0


def writable(xmpp: slixmpp.ClientXMPP, stanza: Any) -> bool:
    """True while the stream's connection can take `stanza`: it is open and, for a stanza
    of the session, the session is up. slixmpp's send queue outlives a connection: what was
    queued on the old one may reach the socket of the next before it logged in (the server
    answers each with an error), so it is kept like one written into the dead connection."""
    transport: Any = xmpp.transport
    if transport is None or transport.is_closing():
        return False
    return bool(getattr(xmpp, "_session_started", True)) or not _of_session(stanza)


def _of_session(stanza: Any) -> bool:
    """Messages, presences, ack requests and IQs other than the login's (bind, session,
    register)."""
    if isinstance(stanza, RequestAck):
        return True
    if isinstance(stanza, slixmpp.Iq):
        return not any(
            stanza.get_plugin(name, check=True) for name in ("bind", "session", "register")
        )
    return isinstance(stanza, slixmpp.Message | slixmpp.Presence)


def keep_for_resumption(xmpp: slixmpp.ClientXMPP, stanza: Any) -> None:
    """Keep a stanza that could not be written for the resumption of its stream.

    Only stanzas stream management counts (messages, presences, IQs), only when the stream
    can be resumed, and only when slixmpp did not count it already (it stopped counting when
    the connection was lost).
    """
    plugins: Any = xmpp.plugin
    if "xep_0198" not in plugins:
        return
    sm = plugins["xep_0198"]
    counted = isinstance(stanza, slixmpp.Message | slixmpp.Presence | slixmpp.Iq)
    if not counted or sm.enabled_out or not (sm.sm_id and sm.allow_resume):
        return
    sm.seq = (sm.seq + 1) % MAX_SEQ
    sm.unacked_queue.append((sm.seq, stanza))


def drop_silent(xmpp: slixmpp.ClientXMPP) -> None:
    """Close a stream whose server stopped answering; the next session is a fresh one (the
    loss is reported by the `disconnected` event, as for any other)."""
    transport: Any = xmpp.transport
    if transport is None:
        return
    log.warning("the server stopped answering; reconnecting")
    plugins: Any = xmpp.plugin
    if "xep_0198" in plugins:
        plugins["xep_0198"].sm_id = None
    transport.abort()
