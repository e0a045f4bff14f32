"""`XmppClient`: the one async face of slixmpp in tui-omemo; the service and `RoomClient` run on it.

It connects (TLS required before any login or stanza, certificates and login mechanisms
checked: see `secure`; plaintext only on a loopback address and only when the caller says so
explicitly), fails fast when nobody answers, uses stream management (XEP-0198) when the
server offers it, enables carbons, publishes and fetches device lists and bundles for both
OMEMO versions (through the `tui_omemo_xep_0384` plugin), sends encrypted messages, queries MAM
archives (ours or a room's) and keeps the socket tuned (TCP_NODELAY, 16 KiB reads).

Per stanza it keeps slixmpp's overhead down: every registered handler's matcher sits behind a
gate (root element, a needed child, and for handlers that only raise an event nobody listens
to, that event), outgoing messages are written by `messages.serialize` without slixmpp's
per-child stanza objects, and `ping` confirms with a stream-management ack request.

Reconnecting: once a session is established, an unexpected loss of the stream is followed by
new attempts with exponential backoff (1 s, 2 s, 4 s … at most 60 s, with jitter), whatever
broke it: EOF, a reset, a write into the dead socket (`dead_stream`: never an exception in
slixmpp's send queue), a parse error, a server that stopped answering a ping, or a loss
between the login and the announcement of the session (issue 19). Where the
server offers it the old stream is resumed (XEP-0198: nothing is lost, rooms stay joined);
otherwise a fresh session starts (presence again when `connect(announce=True)`, carbons again)
and requests still unanswered on the old stream fail at once (`NotConnected`).
Connection listeners hear `Link.LOST`, then `Link.RESUMED` or `Link.ONLINE`; a deliberate
`disconnect()` gives `Link.CLOSED` and never reconnects.

Incoming messages go to the stanza sink (`set_stanza_sink`) as `received.Received` values,
refused ones included with their `Rejection` (the service raises a security event or archives a
failure row for each): errors and archive results are not live messages; a carbon is unwrapped
only when its wrapper comes from our own bare JID (else refused and counted in
`rejected_carbons`); a malformed `<encrypted>` is refused and counted in `malformed_stanzas`;
messages with neither `<encrypted>` nor `<body>` are dropped. Without a sink they are dropped
too (tests that want to await messages use `devtools.queue_client`).

Results of an archive query we opened never reach the sink: the query collects them. Results for
no open query, or from another archive, are refused (`rejected_archive_results`).

Presence subscriptions are never granted automatically: `add_contact` approves (or pre-approves)
the contact it adds; any other request is left for the user to decide.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import enum
import ipaddress
import logging
import os
import random
import socket
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.plugins.xep_0198.stanza import RequestAck
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath, StanzaPath
from slixmpp.xmlstream.matcher.base import MatcherBase

import tui_omemo.xmpp.xep_0384  # registers the plugin with slixmpp
from tui_omemo.model import Namespace, bare_jid
from tui_omemo.protocol.elements import DeviceList, DeviceListEntry, EncryptedElement, WireBundle
from tui_omemo.xmpp import dead_stream
from tui_omemo.xmpp.errors import (
    ArchiveQueryFailed,
    AuthenticationFailed,
    ConnectionFailed,
    InsecureConnectionRefused,
    MalformedStanza,
    NotConnected,
    TransportError,
)
from tui_omemo.xmpp.mam import (
    ArchivedMessage,
    ArchivePage,
    ForgedArchiveResult,
    build_query,
    new_query_id,
    read_fin,
    read_result,
)
from tui_omemo.xmpp.messages import (
    CLIENT,
    FORWARD,
    MAM,
    SID,
    ForgedCarbon,
    build_encrypted_message,
    is_mam_result,
    new_message_id,
    read_message,
    serialize,
    unwrap_carbon,
)
from tui_omemo.xmpp.received import (
    Received,
    Rejection,
    Route,
    accepted,
    carbon_route,
    refused,
)
from tui_omemo.xmpp.secure import REFUSED, SecureStream, StreamSecurity
from tui_omemo.xmpp.xep_0384 import XEP_0384, DeviceListUpdate

log = logging.getLogger(__name__)
_T = TypeVar("_T")

ROSTER = "jabber:iq:roster"
SM = "urn:xmpp:sm:3"
_SEQ_MOD = 2**32
REQUEST_TIMEOUT = 30
READ_SIZE = 16 * 1024
"""Bytes per socket read: slixmpp handles a whole read in one loop step, and asyncio's default
(256 KiB) would let a burst of offline messages or a big MAM page hold the loop for tens of
milliseconds (DESIGN.md §6)."""
BACKOFF_FIRST = 1.0
BACKOFF_CAP = 60.0
_PLUGINS = (
    "xep_0030",
    "xep_0004",
    "xep_0060",
    "xep_0115",
    "xep_0163",
    "xep_0280",
    "xep_0199",
    "xep_0198",
    "xep_0249",
)
_ONLY_RAISE = {
    "IM": "message",
    "IMError": "message_error",
    "Data Form": "message_xform",
    "Forwarded Stanza": "forwarded_stanza",
    "Carbon Received": "carbon_received",
    "Carbon Sent": "carbon_sent",
    "Pubsub Event: Purge": "pubsub_purge",
    "Pubsub Event: Delete": "pubsub_delete",
    "Pubsub Event: Configuration": "pubsub_config",
    "Pubsub Event: Subscription": "pubsub_subscription",
}
"""slixmpp handlers (by name) that do nothing but raise one event (the pubsub ones also a
node's own event, mapped only by `register_pep`, which we never call). We read messages
ourselves (`_on_message`), so nobody listens to these: they are skipped unless someone does."""
_NEEDS_CHILD = {"Pubsub Event: Items": "{http://jabber.org/protocol/pubsub#event}event"}
"""Handlers that can only match a stanza with this child."""
_jitter = random.SystemRandom()


class Link(enum.StrEnum):
    """What happened to the connection (told to connection listeners)."""

    ONLINE = "online"
    """A fresh session (after a reconnect: presence, carbons and joined rooms are gone)."""
    RESUMED = "resumed"
    """The old stream was resumed (XEP-0198): nothing was lost."""
    LOST = "lost"
    """The stream broke unexpectedly; reconnecting."""
    CLOSED = "closed"
    """Disconnected for good (deliberately, or the server refused to let us back in)."""


ConnectionListener = Callable[[Link], None]
Pause = Callable[[int], Awaitable[None]]
"""Waits before reconnect attempt `n` (0 for the first)."""


def backoff_delay(attempt: int, first: float = BACKOFF_FIRST, cap: float = BACKOFF_CAP) -> float:
    """Seconds to wait before reconnect attempt `attempt`: doubling from `first`, at most
    `cap`, each with ±20 % jitter (so clients cut off together do not return together)."""
    base = min(cap, first * float(2 ** min(attempt, 16)))
    jitter: float = _jitter.uniform(0.8, 1.2)
    return min(cap, base * jitter)


async def backoff_pause(attempt: int) -> None:
    """The default `Pause`: sleep `backoff_delay(attempt)`."""
    await asyncio.sleep(backoff_delay(attempt))


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One roster item: bare JID, the name we gave it, the subscription state (`none`, `to`,
    `from`, `both`), its groups, and whether our request to see its presence is pending."""

    bare_jid: str
    name: str | None
    subscription: str
    groups: tuple[str, ...] = ()
    pending: bool = False


@dataclass(frozen=True, slots=True)
class ReceivedPage:
    """One page of an archive query as a stanza sink sees it.

    Attributes:
        messages: the results in order, malformed ones included (with their `Rejection`).
        complete: True when the archive has nothing after this page.
        last: the id to pass as `after` for the next page (None when the page is empty).
    """

    messages: tuple[Received, ...]
    complete: bool
    last: str | None


@dataclass(slots=True)
class _Query:
    archive_jid: str
    received: list[Received] = field(default_factory=list)
    archived: list[ArchivedMessage] = field(default_factory=list)


def is_loopback(host: str | None) -> bool:
    """True for `localhost` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class XmppClient:
    """One XMPP account connection.

    Args:
        jid: the account JID (bare or full; a resource is kept).
        password: the account password (never logged).
        host: the address to connect to; None to resolve the JID's domain (SRV).
        port: the c2s port.
        allow_plaintext_loopback: allow an unencrypted stream, which is only accepted when
            `host` is a loopback address (tests and the demo run Prosody on 127.0.0.1).
        reconnect: reconnect after an unexpected loss of an established session.
        resume: ask the server to keep the stream resumable (XEP-0198); False forces a fresh
            session on every reconnect.
        pause: waits before each reconnect attempt (default: `backoff_pause`).
        security: the certificate pin, the pinned login mechanism, a resolver (see
            `secure.StreamSecurity`); the rules of `secure` apply in any case.

    Raises:
        InsecureConnectionRefused: when plaintext is asked for on a non-loopback address.
    """

    def __init__(
        self,
        jid: str,
        password: str,
        *,
        host: str | None = None,
        port: int = 5222,
        allow_plaintext_loopback: bool = False,
        reconnect: bool = True,
        resume: bool = True,
        pause: Pause = backoff_pause,
        security: StreamSecurity | None = None,
    ) -> None:
        if allow_plaintext_loopback and not is_loopback(host):
            raise InsecureConnectionRefused(
                f"plaintext XMPP is only allowed on a loopback address, not {host!r}; "
                "use TLS for any other server"
            )
        self._jid = jid
        self._password = password
        self._host = host
        self._port = port
        self._plaintext = allow_plaintext_loopback
        self._reconnect = reconnect
        self._resume = resume
        self._pause = pause
        self._security = security or StreamSecurity()
        self._xmpp: SecureStream | None = None
        self._announce = True
        self._online = False
        self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None
        self._loss: asyncio.Future[None] | None = None
        """Resolved by the next loss of the connection (`_session_ready` waits on it)."""
        self._told: Link | None = None
        self._unannounced = False
        """A fresh session started and was not announced (ONLINE) yet: a resumption of it
        resumes a stream the listeners never heard of, and is announced as a fresh one."""
        self._acked_before = 0
        """The server's last count of our stanzas before a connection attempt."""
        """What the connection listeners heard last."""
        self._stream_gone: asyncio.Future[None] | None = None
        """Set when the stream our pending requests went out on is replaced or closed."""
        self._sink: Callable[[Received], None] | None = None
        self._device_list_listeners: list[Callable[[DeviceListUpdate], None]] = []
        self._subscription_listeners: list[Callable[[str], None]] = []
        self._connection_listeners: list[ConnectionListener] = []
        self._status_listeners: list[Callable[[str], None]] = []
        self._roster_listeners: list[Callable[[], None]] = []
        self._presence_listeners: list[Callable[[ET.Element], None]] = []
        self._message_listeners: list[Callable[[ET.Element], None]] = []
        self._queries: dict[str, _Query] = {}
        self._given_up: collections.deque[str] = collections.deque(maxlen=64)
        """Queries we opened and stopped waiting for: results the server still sends for
        them (after a resumption, say) are ours, dropped without a security warning."""
        self._ack_waiters: list[tuple[int, asyncio.Future[None]]] = []
        """`ping`s waiting for the server to ack up to a stanza count (XEP-0198)."""
        self._ack_requests: dict[int, tuple[Any, asyncio.Future[None]]] = {}
        """`ping`s whose `<r/>` waits in slixmpp's send queue (by id of the request, which is
        held here so that its id stays its own)."""
        self._own_writes: dict[int, Any] = {}
        """Messages in slixmpp's send queue that `_on_outgoing` writes (held, by id)."""
        self.rejected_carbons = 0
        self.rejected_archive_results = 0
        self.malformed_stanzas = 0

    # --- connection ---------------------------------------------------------------------------

    @property
    def bare_jid(self) -> str:
        """Our bare JID."""
        return bare_jid(self._jid)

    @property
    def full_jid(self) -> str:
        """The full JID the server bound (or the configured JID before connecting)."""
        if self._xmpp is None:
            return self._jid
        return str(self._xmpp.boundjid.full)

    @property
    def connected(self) -> bool:
        """True while a session is established."""
        return self._online and self._xmpp is not None and self._xmpp.is_connected()

    @property
    def login_mechanism(self) -> str | None:
        """The SASL mechanism of the last successful login (None before one)."""
        return None if self._xmpp is None else self._xmpp.mechanism_used

    @property
    def stream(self) -> slixmpp.ClientXMPP:
        """The slixmpp stream (tests hook outgoing XML and cut the socket here).

        Raises:
            NotConnected: before `connect` or after `disconnect`.
        """
        return self._stream()

    async def connect(self, within: float = 30, *, announce: bool = True) -> None:
        """Connect, authenticate, bind, enable carbons and (with `announce`) send presence
        with `+notify` caps. Without `announce` the caller sends presence (`send_presence`)
        once it listens, so the offline messages the server pushes then are not missed.

        Raises:
            InsecureConnectionRefused: TLS is required but the server offered none.
            AuthenticationFailed: the server refused the credentials.
            ConnectionFailed: nobody answers at the address (raised as soon as every way to
                connect failed), or no session within `within` seconds.
        """
        if self._xmpp is None:
            self._xmpp = self._make_stream()
        self._closing = False
        self._announce = announce
        try:
            resumed = await self._open(within)
        except Exception:
            await self._abort()
            raise
        if await self._session_ready(resumed, within):
            return
        if not self._reconnect:
            await self._abort()
            raise ConnectionFailed(f"the stream to {self._where()} broke right after the login")
        self._lost()  # lost right after the login: reconnecting

    def _where(self) -> str:
        return f"{self._host}:{self._port}" if self._host else self.bare_jid.partition("@")[2]

    async def _open(self, within: float) -> bool:
        """One connection attempt; True when it resumed the previous stream."""
        xmpp = self._stream()
        self._acked_before = dead_stream.acked(xmpp)
        outcome: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        failures: list[str] = []

        def settle(result: bool | Exception) -> None:
            if outcome.done():
                return
            if isinstance(result, Exception):
                outcome.set_exception(result)
            else:
                outcome.set_result(result)

        def unreachable(_event: object) -> None:
            # slixmpp tries each connection method once, then schedules another round after
            # a delay: the start of that delay means every method failed.
            reason = f" ({failures[-1]})" if failures else ""
            settle(ConnectionFailed(f"cannot reach {self._where()}{reason}"))

        def closed(_event: object) -> None:
            if not xmpp.refusing:  # else REFUSED follows with the reason
                settle(xmpp.refusal or ConnectionFailed("the server closed the stream"))

        handlers: dict[str, Callable[[Any], None]] = {
            "session_start": lambda _: settle(False),
            "session_resumed": lambda _: settle(True),
            "failed_all_auth": lambda _: settle(xmpp.auth_error()),
            REFUSED: settle,
            "disconnected": closed,
            "connection_failed": lambda error: failures.append(_reason(error)),
            "reconnect_delay": unreachable,
        }
        for name, handler in handlers.items():
            xmpp.add_event_handler(name, handler)
        xmpp.reset_refusal()
        try:
            xmpp.connect(self._host, self._port)
            return await asyncio.wait_for(outcome, within)
        except TimeoutError as error:
            raise ConnectionFailed(f"no XMPP session with {self._where()} in time") from error
        finally:
            for name, handler in handlers.items():
                xmpp.del_event_handler(name, handler)

    async def _session_ready(self, resumed: bool, within: float) -> bool:
        """Announce the new session (online for senders from then on); False when its
        connection was lost again before that (the caller reconnects)."""
        xmpp = self._stream()
        if resumed and self._unannounced:
            # lost before it was announced: what the last announced stream took is not in it
            resumed = False
        if not resumed:
            self._unannounced = True
            self._retire_stream()
        if not xmpp.is_connected():  # lost since the session start: nobody was told
            return False
        if resumed and not _covers(dead_stream.acked(xmpp), self._acked_before):
            # its <resumed h> is behind an <a h> it sent before: what it counted is unknown
            log.warning("the server resumed the stream behind its own count; a fresh session")
            dead_stream.drop_silent(xmpp)
            return False
        if resumed:
            self._online = True
            self._ask_acks_again(xmpp)
            self._tell(Link.RESUMED)
            return True
        lost = self._lost_future()
        if self._announce:
            xmpp.send_presence()
        enabling = asyncio.ensure_future(xmpp.plugin["xep_0280"].enable(timeout=within))
        try:
            await asyncio.wait((enabling, lost), return_when=asyncio.FIRST_COMPLETED)
            if enabling.done():
                enabling.result()
        except (IqError, IqTimeout):
            log.warning("the server did not enable carbons; other devices' sends are not copied")
        finally:
            enabling.cancel()
        if lost.done() or not xmpp.is_connected():
            return False
        self._online = True
        self._unannounced = False
        self._tell(Link.ONLINE)
        return True

    def _lost_future(self) -> asyncio.Future[None]:
        """Resolved when the current session's connection is lost."""
        if self._loss is None or self._loss.done():
            self._loss = asyncio.get_running_loop().create_future()
        return self._loss

    def _make_stream(self) -> SecureStream:
        xmpp = SecureStream(
            self._jid, self._password, plaintext_loopback=self._plaintext, security=self._security
        )
        # Presence subscriptions are never granted automatically: only add_contact approves
        # (or pre-approves) a contact; other requests wait for the user.
        xmpp.auto_authorize = None
        xmpp.auto_subscribe = False
        for name in _PLUGINS:
            xmpp.register_plugin(name)
        xmpp.register_plugin(XEP_0384.name, module=tui_omemo.xmpp.xep_0384)
        plugins: Any = xmpp.plugin
        plugins["xep_0198"].allow_resume = self._resume
        xmpp.register_handler(
            Callback("tui-omemo messages", MatchXPath(f"{{{CLIENT}}}message"), self._on_message)
        )
        xmpp.register_handler(
            Callback("tui-omemo presence", MatchXPath(f"{{{CLIENT}}}presence"), self._on_presence)
        )
        xmpp.register_handler(
            Callback("tui-omemo acks", MatchXPath(f"{{{SM}}}a"), self._on_ack, instream=True)
        )
        xmpp.add_event_handler("connected", lambda _: self._tune_socket_soon(xmpp))
        xmpp.add_event_handler("session_bind", lambda _: _restart_counts(xmpp))
        xmpp.add_filter("out_sync", self._on_outgoing)
        xmpp.add_event_handler("disconnected", self._on_disconnected)
        xmpp.add_event_handler("omemo_device_list", self._on_device_list)
        xmpp.add_event_handler("presence_subscribe", self._on_subscribe)
        xmpp.add_event_handler("changed_status", self._on_status)
        xmpp.add_event_handler("roster_update", self._on_roster_push)
        _gate_handlers(xmpp)
        return xmpp

    def _tune_socket_soon(self, xmpp: slixmpp.ClientXMPP) -> None:
        # "connected" fires inside connection_made, before slixmpp stores the transport.
        asyncio.get_running_loop().call_soon(_tune_socket, xmpp)

    def _on_disconnected(self, _reason: object) -> None:
        if self._loss is not None and not self._loss.done():
            self._loss.set_result(None)
        if self._online:
            self._lost()
        # else: a failed attempt (its `_open` fails and the loop goes on), a close, or a
        # session lost before `_session_ready` announced it (which notices)

    def _lost(self) -> None:
        """The established session's connection is gone: reconnect (one loop at a time;
        a loop under way notices by itself), or close when reconnecting is off."""
        self._online = False
        if self._closing or not self._reconnect:
            self._tell(Link.CLOSED)
            return
        if self._told is not Link.LOST:
            log.info("the stream to %s broke; reconnecting", self._where())
            self._tell(Link.LOST)
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.ensure_future(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        """Attempts with backoff until a session is up and stays up through `_session_ready`
        (a connection lost again meanwhile starts the next attempt); only a refused login,
        a refused plaintext stream or `disconnect()` ends it otherwise."""
        attempt = 0
        while not self._closing and self._xmpp is not None:
            await self._pause(attempt)
            if self._closing or self._xmpp is None:
                return
            try:
                resumed = await self._open(REQUEST_TIMEOUT)
            except (AuthenticationFailed, InsecureConnectionRefused) as error:
                log.warning("not reconnecting: %s", error)
                self._drop_attempt()
                self._tell(Link.CLOSED)
                return
            except TransportError as error:
                log.info("reconnect attempt %d failed: %s", attempt + 1, error)
                self._drop_attempt()
                attempt += 1
                continue
            if await self._session_ready(resumed, REQUEST_TIMEOUT):
                return
            attempt = 0  # it was up: the next attempt starts the backoff again

    def _drop_attempt(self) -> None:
        xmpp = self._xmpp
        if xmpp is not None:
            xmpp.cancel_connection_attempt()
            xmpp.abort()

    def add_connection_listener(self, listener: ConnectionListener) -> None:
        """Call `listener(link)` when the stream is lost, resumed, fresh again or closed."""
        self._connection_listeners.append(listener)

    def _tell(self, link: Link) -> None:
        self._told = link
        if link is Link.CLOSED:
            self._retire_stream()
        for listener in self._connection_listeners:
            listener(link)

    async def _abort(self) -> None:
        xmpp, self._xmpp = self._xmpp, None
        self._online = False
        if xmpp is not None:
            xmpp.cancel_connection_attempt()
            if xmpp.is_connected():
                await xmpp.disconnect(wait=2)
            else:
                xmpp.abort()

    async def disconnect(self) -> None:
        """Close the stream for good (waiting briefly for the server to acknowledge); no
        reconnect follows."""
        self._closing = True
        task, self._reconnecting = self._reconnecting, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        was_online = self._online
        await self._abort()
        if was_online:
            self._tell(Link.CLOSED)

    def _retire_stream(self) -> None:
        """Requests still waiting on the previous stream fail now: after a fresh session or
        a close their answers never come (only a resumed stream still answers them)."""
        self._ack_waiters = []  # their counts were of that stream; `_answer` fails them
        self._ack_requests = {}
        self._own_writes = {}
        gone, self._stream_gone = self._stream_gone, None
        if gone is not None and not gone.done():
            gone.set_result(None)

    async def _answer(self, request: Awaitable[_T]) -> _T:
        """The answer to an IQ `request` sent on the current stream.

        Raises:
            NotConnected: that stream was replaced by a fresh session or closed before the
                answer came (rather than waiting for the request's timeout, possibly with a
                lock held by the caller).
        """
        if self._stream_gone is None:
            self._stream_gone = asyncio.get_running_loop().create_future()
        gone = self._stream_gone
        answer = asyncio.ensure_future(request)
        try:
            done, _ = await asyncio.wait((answer, gone), return_when=asyncio.FIRST_COMPLETED)
            if answer in done:
                return answer.result()
            raise NotConnected("the stream broke before the server answered")
        finally:
            if not answer.done():
                answer.cancel()

    def _stream(self) -> SecureStream:
        if self._xmpp is None:
            raise NotConnected("not connected")
        return self._xmpp

    def _live(self) -> slixmpp.ClientXMPP:
        """The stream while a session is up. A stanza handed to slixmpp while the stream is
        down (reconnecting) would be dropped without a word, so it is refused here instead.

        Raises:
            NotConnected: no session (never connected, reconnecting, or disconnected).
        """
        if not self._online:
            task = self._reconnecting
            state = "reconnecting" if task is not None and not task.done() else "offline"
            raise NotConnected(f"not connected to the server ({state})")
        return self._stream()

    def _omemo(self) -> XEP_0384:
        plugins: Any = self._live().plugin
        return cast(XEP_0384, plugins[XEP_0384.name])

    def send_presence(self) -> None:
        """Announce our availability (with `+notify` caps); the server then pushes the
        messages it stored while we were offline."""
        self._live().send_presence()

    async def ping(self, within: float) -> None:
        """A round trip to the server: everything sent before has reached it.

        With stream management on, an ack request (XEP-0198 `<r/>`) whose answer counts every
        stanza sent so far: two nonzas, where an XEP-0199 ping is two stanzas the server also
        routes, queues for resending and asks an ack for (measured ~1.5 ms of Prosody CPU per
        ping, `benchmarks/server_cost.py`). Nothing goes out when the server already acked
        everything. Without stream management, a ping.

        A stream whose server does not answer in time is broken: it is dropped (not to be
        resumed) and a fresh session follows.

        Raises:
            TransportError: no answer within `within` seconds, or no stream.
        """
        xmpp = self._live()
        plugins: Any = xmpp.plugin
        try:
            if plugins["xep_0198"].enabled_out:
                await asyncio.wait_for(self._answer(self._acked(xmpp)), within)
            else:
                await self._answer(plugins["xep_0199"].ping(timeout=within))
        except IqError as error:
            raise TransportError(f"the server refused a ping: {error.condition}") from error
        except (IqTimeout, TimeoutError) as error:
            if self._xmpp is xmpp:
                dead_stream.drop_silent(xmpp)  # a reconnect follows, as for any broken stream
            raise TransportError(f"the server did not answer a ping within {within:g} s") from error

    def _acked(self, xmpp: slixmpp.ClientXMPP) -> asyncio.Future[None]:
        """Resolved once the server acks every stanza handed to the stream so far. The `<r/>`
        queues behind them (`_on_outgoing` counts when it leaves), or is dropped when the
        server already acked them all."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        request = RequestAck(xmpp)
        self._ack_requests[id(request)] = (request, waiter)
        xmpp.send(request)
        return waiter

    def _on_outgoing(self, stanza: Any) -> Any:
        """slixmpp's last filter before the socket (stream management counted the stanza
        already): a message of `send_stanza` is written here, serialized by `messages`
        instead of slixmpp (~0.3 ms less per 1 KB message); an `<r/>` of `_acked` takes its
        count. Nothing is written into a connection that is gone (`dead_stream`): the stanza
        waits for the resumption, and the loss itself is the `disconnected` event."""
        key = id(stanza)
        own = self._own_writes.pop(key, None) is stanza
        entry = self._ack_requests.pop(key, None)
        if entry is not None and entry[0] is stanza and not self._ack_request_out(stanza, entry[1]):
            return None
        stream = stanza.stream or self._xmpp  # its own stream, even while we close
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
        """An `<r/>` of `_acked` leaves: it waits for the count sent so far; False when
        it need not go (the server acked everything already, or nobody waits any more)."""
        plugins: Any = stanza.stream.plugin
        sm = plugins["xep_0198"]
        target = int(sm.seq)
        if waiter.done():  # given up meanwhile
            return False
        if _covers(int(sm.last_ack), target):
            waiter.set_result(None)
            return False
        self._ack_waiters.append((target, waiter))
        return True

    def _ask_acks_again(self, xmpp: slixmpp.ClientXMPP) -> None:
        """After a resumption: the `<resumed h>` may cover waiting `ping`s; for the others
        the `<r/>` may have been lost with the old connection, so one more is queued (behind
        the stanzas slixmpp sends again)."""
        plugins: Any = xmpp.plugin
        self._on_handled(int(plugins["xep_0198"].last_ack))
        if self._ack_waiters:
            xmpp.send(RequestAck(xmpp))

    def _on_ack(self, ack: Any) -> None:
        """An `<a h=…/>`: wake the waiters it covers."""
        handled = ack.xml.get("h", "")
        if handled.isdigit():
            self._on_handled(int(handled))

    def _on_handled(self, handled: int) -> None:
        waiting = []
        for target, waiter in self._ack_waiters:
            if waiter.done():
                continue
            if _covers(handled, target):
                waiter.set_result(None)
            else:
                waiting.append((target, waiter))
        self._ack_waiters = waiting

    # --- OMEMO directory (PEP) -------------------------------------------------------------

    async def fetch_device_list(self, jid: str, namespace: Namespace) -> DeviceList:
        """`jid`'s device list for `namespace` (empty when none). See XEP_0384."""
        return await self._answer(self._omemo().fetch_device_list(bare_jid(jid), namespace))

    async def publish_device_list(
        self,
        namespace: Namespace,
        own: DeviceListEntry,
        *,
        drop: tuple[int, ...] = (),
        server: DeviceList | None = None,
    ) -> DeviceList:
        """Put our device on our own list, merged with the server's (or with `server`, a list
        just read); returns the new list."""
        return await self._answer(
            self._omemo().publish_device_list(namespace, own, drop=drop, server=server)
        )

    async def publish_exact_device_list(self, device_list: DeviceList) -> None:
        """Publish `device_list` as it is (the caller merged it with the server's list)."""
        await self._answer(self._omemo().publish_exact_device_list(device_list))

    async def publish_bundle(self, device_id: int, bundle: WireBundle) -> None:
        """Publish our bundle for `device_id` (access model open)."""
        await self._answer(self._omemo().publish_bundle(device_id, bundle))

    async def fetch_bundle(self, jid: str, namespace: Namespace, device_id: int) -> WireBundle:
        """`jid`'s bundle for `device_id`. Raises BundleNotFound when there is none."""
        return await self._answer(self._omemo().fetch_bundle(bare_jid(jid), namespace, device_id))

    def add_device_list_listener(self, listener: Callable[[DeviceListUpdate], None]) -> None:
        """Call `listener` for every device-list notification (ours and contacts')."""
        self._device_list_listeners.append(listener)

    def _on_device_list(self, update: DeviceListUpdate) -> None:
        for listener in self._device_list_listeners:
            listener(update)

    # --- messages ----------------------------------------------------------------------------

    def send_encrypted(
        self,
        encrypted: EncryptedElement,
        to: str,
        *,
        message_type: str = "chat",
        message_id: str | None = None,
        body_hint: str | None = None,
        also: EncryptedElement | None = None,
    ) -> str:
        """Send `encrypted` (and `also`, an element of the other OMEMO version, in the same
        stanza) to `to`; returns the message id (also the origin-id).

        Raises:
            NotConnected: without a session.
        """
        element = build_encrypted_message(
            encrypted,
            to,
            message_type=message_type,
            message_id=message_id,
            body_hint=body_hint,
            also=also,
        )
        self.send_stanza(element)
        return str(element.get("id"))

    def send_plaintext(
        self, to: str, body: str, *, message_type: str = "chat", message_id: str | None = None
    ) -> str:
        """Send an unencrypted message (only for chats the user chose not to encrypt); returns
        the message id, also sent as origin-id.

        Raises:
            NotConnected: without a session.
        """
        message_id = message_id or new_message_id()
        element = ET.Element(f"{{{CLIENT}}}message", to=to, type=message_type, id=message_id)
        ET.SubElement(element, f"{{{CLIENT}}}body").text = body
        ET.SubElement(element, f"{{{SID}}}origin-id", id=message_id)
        self.send_stanza(element)
        return message_id

    def send_invitation(self, to: str, room: str) -> None:
        """Invite `to` into `room` directly (XEP-0249).

        Raises:
            NotConnected: without a stream.
        """
        plugins: Any = self._live().plugin
        plugins["xep_0249"].send_invitation(slixmpp.JID(bare_jid(to)), slixmpp.JID(bare_jid(room)))

    def send_stanza(self, element: ET.Element) -> None:
        """Send a `<message>` or `<presence>` built by `xmpp/` (groupchat messages, MUC
        presences, subject changes).

        Raises:
            NotConnected: without a stream.
            ValueError: for any other element.
        """
        xmpp = self._live()
        if element.tag == f"{{{CLIENT}}}presence":
            slixmpp.Presence(xmpp, xml=element).send()
            return
        if element.tag != f"{{{CLIENT}}}message":
            raise ValueError(f"not a message or presence: {element.tag}")
        # An empty Message that adopts the children: slixmpp would build a stanza object for
        # every child it knows (8 for an OMEMO 2 <encrypted>) that nobody reads. It still
        # goes through the send queue and stream management; `_on_outgoing` writes it.
        message = slixmpp.Message(xmpp)  # type: ignore[no-untyped-call]
        for key, value in element.attrib.items():
            message.xml.set(key, value)
        message.xml.text = element.text
        message.xml.extend(element)
        self._own_writes[id(message)] = message
        message.send()

    async def request(
        self,
        iq_type: str,
        payload: ET.Element | None,
        *,
        to: str | None,
        what: str,
        within: float = REQUEST_TIMEOUT,
    ) -> ET.Element:
        """Send an IQ `get` or `set` with `payload` and return the result stanza.

        Raises:
            TransportError: "`what`: condition" for an error reply, "`what`: no answer in
                time" for a timeout; NotConnected without a stream.
        """
        xmpp = self._live()
        iq: Any = xmpp.make_iq_get(ito=to) if iq_type == "get" else xmpp.make_iq_set(ito=to)
        if payload is not None:
            iq.xml.append(payload)
        try:
            result = await self._answer(iq.send(timeout=within))
        except IqError as error:
            raise TransportError(f"{what}: {error.condition}") from error
        except IqTimeout as error:
            raise TransportError(f"{what}: no answer in time") from error
        xml: ET.Element = result.xml
        return xml

    async def query_archive(
        self,
        *,
        with_jid: str | None = None,
        start: datetime | None = None,
        after: str | None = None,
        max_results: int = 100,
        archive: str | None = None,
        last_page: bool = False,
        within: float = 60,
    ) -> ArchivePage:
        """One page of a MAM archive (ours, or a room's when `archive` is given).

        Only results carrying this query's random queryid and coming from the queried archive
        are collected; others are refused and counted in `rejected_archive_results`, and so
        are malformed ones.

        Raises:
            ArchiveQueryFailed: on an error reply or a timeout.
            NotConnected: without a session.
        """
        query, complete, last = await self._query(
            archive,
            within,
            with_jid=with_jid,
            start=start,
            after=after,
            max_results=max_results,
            last_page=last_page,
        )
        if last is None and query.archived:
            last = query.archived[-1].archive_id
        return ArchivePage(tuple(query.archived), complete, last)

    async def archive_page(
        self, *, after: str | None = None, max_results: int = 25, within: float = 60
    ) -> ReceivedPage:
        """One page of our own archive after `after`, as `Received` values (malformed results
        included, with their rejection; `last` is the server's RSM `last`).

        Raises:
            ArchiveQueryFailed: on an error reply or a timeout.
        """
        query, complete, last = await self._query(
            None, within, after=after, max_results=max_results
        )
        return ReceivedPage(tuple(query.received), complete, last)

    async def _query(
        self, archive: str | None, within: float, **options: Any
    ) -> tuple[_Query, bool, str | None]:
        xmpp = self._live()
        query_id = new_query_id()
        query = _Query(bare_jid(archive) if archive else self.bare_jid)
        self._queries[query_id] = query
        iq = xmpp.make_iq_set(ito=query.archive_jid if archive else None)
        iq.xml.append(build_query(query_id, **options))
        try:
            result = await self._answer(iq.send(timeout=within))  # type: ignore[no-untyped-call]
        except (IqError, IqTimeout) as error:
            raise ArchiveQueryFailed(f"archive query on {query.archive_jid} failed") from error
        finally:
            del self._queries[query_id]
            self._given_up.append(query_id)  # late results of it are dropped quietly
        complete, last = read_fin(result.xml)
        return query, complete, last

    def archive_query_open(self, query_id: str) -> bool:
        """True while `query_id` belongs to one of our open archive queries."""
        return query_id in self._queries

    async def last_archive_id(self, archive: str | None = None) -> str | None:
        """The id of the newest message in our archive (or a room's), None when it is empty.
        A catch-up after this id fetches only what arrives later."""
        page = await self.query_archive(max_results=1, archive=archive, last_page=True)
        return page.messages[-1].archive_id if page.messages else page.last

    # --- roster and presence -----------------------------------------------------------------

    async def roster(self) -> list[RosterEntry]:
        """Our roster as the server has it.

        Raises:
            TransportError: on an error reply or a timeout.
        """
        result = await self.request(
            "get", ET.Element(f"{{{ROSTER}}}query"), to=None, what="fetching the roster"
        )
        entries = []
        for item in result.iter(f"{{{ROSTER}}}item"):
            jid = item.get("jid")
            if jid:
                groups = tuple(group.text or "" for group in item.iter(f"{{{ROSTER}}}group"))
                entries.append(
                    RosterEntry(
                        bare_jid(jid),
                        item.get("name"),
                        item.get("subscription", "none"),
                        groups,
                        item.get("ask") == "subscribe",
                    )
                )
        return entries

    async def remove_contact(self, jid: str) -> None:
        """Remove `jid` from the roster; the server cancels both presence subscriptions.

        Raises:
            TransportError: when the roster update fails.
        """
        contact = bare_jid(jid)
        query = ET.Element(f"{{{ROSTER}}}query")
        ET.SubElement(query, f"{{{ROSTER}}}item", jid=contact, subscription="remove")
        await self.request("set", query, to=None, what=f"removing {contact} from the roster")

    async def rename_contact(self, jid: str, name: str, groups: tuple[str, ...] = ()) -> None:
        """Give `jid` the roster name `name` (empty: none), keeping its `groups`.

        Raises:
            TransportError: when the roster update fails.
        """
        contact = bare_jid(jid)
        query = ET.Element(f"{{{ROSTER}}}query")
        item = ET.SubElement(query, f"{{{ROSTER}}}item", jid=contact)
        if name:
            item.set("name", name)
        for group in groups:
            ET.SubElement(item, f"{{{ROSTER}}}group").text = group
        await self.request("set", query, to=None, what=f"renaming {contact} in the roster")

    def add_roster_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener()` when the server pushes a roster change (a subscription answered,
        a contact added or removed elsewhere)."""
        self._roster_listeners.append(listener)

    def _on_roster_push(self, _iq: Any) -> None:
        for listener in self._roster_listeners:
            listener()

    async def add_contact(self, jid: str, name: str | None = None) -> None:
        """Add `jid` to the roster, allow it to see our presence (approval, or pre-approval
        when it has not asked yet) and ask to see its presence.

        Raises:
            TransportError: when the roster update fails.
        """
        contact = bare_jid(jid)
        query = ET.Element(f"{{{ROSTER}}}query")
        item = ET.SubElement(query, f"{{{ROSTER}}}item", jid=contact)
        if name:
            item.set("name", name)
        await self.request("set", query, to=None, what=f"adding {contact} to the roster")
        xmpp = self._live()
        xmpp.send_presence(pto=contact, ptype="subscribed")
        xmpp.send_presence(pto=contact, ptype="subscribe")

    def deny_contact(self, jid: str) -> None:
        """Refuse (or revoke) `jid`'s permission to see our presence."""
        self._live().send_presence(pto=bare_jid(jid), ptype="unsubscribed")

    def add_subscription_request_listener(self, listener: Callable[[str], None]) -> None:
        """Call `listener(bare_jid)` when someone asks to see our presence. Nothing is granted
        automatically; answer with `add_contact` (approve) or `deny_contact`."""
        self._subscription_listeners.append(listener)

    def _on_subscribe(self, presence: Any) -> None:
        requester = bare_jid(str(presence["from"].bare))
        for listener in self._subscription_listeners:
            listener(requester)

    def presence_shows(self, jid: str) -> list[str]:
        """The `<show>` of each available resource of `jid` ("" for plain available); empty
        when none is available."""
        if self._xmpp is None:
            return []
        roster: Any = self._xmpp.client_roster
        resources: dict[str, Any] = roster.presence(bare_jid(jid)) or {}
        return [str(info.get("show") or "") for info in resources.values()]

    def add_status_listener(self, listener: Callable[[str], None]) -> None:
        """Call `listener(bare_jid)` whenever a contact's availability changes."""
        self._status_listeners.append(listener)

    def _on_status(self, presence: Any) -> None:
        jid = bare_jid(str(presence["from"]))
        for listener in self._status_listeners:
            listener(jid)

    # --- raw stanzas (group chats) -----------------------------------------------------------

    def add_presence_listener(self, listener: Callable[[ET.Element], None]) -> None:
        """Call `listener(xml)` with every incoming `<presence>` (MUC occupants, errors)."""
        self._presence_listeners.append(listener)

    def add_message_listener(self, listener: Callable[[ET.Element], None]) -> None:
        """Call `listener(xml)` with every incoming `<message>` as it arrived (subjects,
        MUC status messages), before any unwrapping."""
        self._message_listeners.append(listener)

    def _on_presence(self, stanza: Any) -> None:
        for listener in self._presence_listeners:
            listener(stanza.xml)

    # --- incoming messages -------------------------------------------------------------------

    def set_stanza_sink(self, sink: Callable[[Received], None] | None) -> None:
        """Hand every incoming message to `sink` as a `Received`, refused ones included;
        None drops them."""
        self._sink = sink

    def _on_message(self, stanza: Any) -> None:
        xml: ET.Element = stanza.xml
        for listener in self._message_listeners:
            listener(xml)
        if xml.get("type") == "error":
            return
        received = self._archive_result(xml) if is_mam_result(xml) else self._receive(xml)
        if received is not None and self._sink is not None:
            self._sink(received)

    def _receive(self, xml: ET.Element) -> Received | None:
        own = self.bare_jid
        try:
            carbon = unwrap_carbon(xml, own)
        except ForgedCarbon as error:
            self.rejected_carbons += 1
            log.warning("%s", error)
            return refused(
                xml,
                Route.CARBON_RECEIVED,
                Rejection.FORGED_CARBON,
                str(error),
                wrapper_from=xml.get("from", ""),
            )
        inner, direction, wrapper_from = xml, None, None
        if carbon is not None:
            (inner, direction), wrapper_from = carbon, xml.get("from", own)
        route = carbon_route(direction)
        try:
            incoming = read_message(inner, own)
        except MalformedStanza as error:
            self.malformed_stanzas += 1
            log.warning("malformed message from %s: %s", inner.get("from"), error)
            return refused(
                inner, route, Rejection.MALFORMED, f"malformed <encrypted>: {error}", wrapper_from
            )
        if incoming.encrypted is None and incoming.body is None:
            return None
        if route is Route.LIVE and incoming.timestamp is not None:
            route = Route.OFFLINE
        return accepted(
            dataclasses.replace(incoming, carbon=direction), route, wrapper_from=wrapper_from
        )

    def _archive_result(self, xml: ET.Element) -> Received | None:
        """Collect a result of an open query (None), or refuse it."""
        result = xml.find(f"{{{MAM}}}result")
        query_id = result.get("queryid", "") if result is not None else ""
        wrapper_from = xml.get("from", self.bare_jid)
        query = self._queries.get(query_id)
        if query is None and query_id in self._given_up:
            return None  # a late result of our own query (resent on a resumed stream)
        if query is None:
            self.rejected_archive_results += 1
            log.warning("refusing an archive result for a query we did not open")
            return refused(
                xml,
                Route.ARCHIVE,
                Rejection.UNSOLICITED_ARCHIVE_RESULT,
                "archive result for a query we never opened",
                wrapper_from,
                query_id,
            )
        try:
            archived = read_result(
                xml, query_id=query_id, archive_jid=query.archive_jid, own_bare_jid=self.bare_jid
            )
        except ForgedArchiveResult as error:
            self.rejected_archive_results += 1
            log.warning("refusing an archive result: %s", error)
            return refused(
                xml,
                Route.ARCHIVE,
                Rejection.FORGED_ARCHIVE_RESULT,
                str(error),
                wrapper_from,
                query_id,
            )
        except MalformedStanza as error:
            self.rejected_archive_results += 1
            log.warning("malformed archive result: %s", error)
            inner = xml.find(f"{{{MAM}}}result/{{{FORWARD}}}forwarded/{{{CLIENT}}}message")
            query.received.append(
                refused(
                    xml if inner is None else inner,
                    Route.ARCHIVE,
                    Rejection.MALFORMED,
                    f"malformed <encrypted>: {error}",
                    wrapper_from,
                    query_id,
                )
            )
            return None
        query.archived.append(archived)
        query.received.append(
            accepted(archived.message, Route.ARCHIVE, wrapper_from=wrapper_from, query_id=query_id)
        )
        return None


def _restart_counts(xmpp: slixmpp.ClientXMPP) -> None:
    """A bound resource is a fresh session: XEP-0198 counts start again at 0. slixmpp resets
    its count of sent stanzas only when a resumption fails, not when a stream without a
    resumable id is replaced, and then takes the server's acks for inconsistent."""
    plugins: Any = xmpp.plugin
    sm = plugins["xep_0198"]
    sm.seq = sm.last_ack = sm.handled = 0
    sm.unacked_queue.clear()


def _covers(handled: int, target: int) -> bool:
    """True when an XEP-0198 count `handled` includes stanza number `target` (counts wrap
    at 2**32)."""
    return (handled - target) % _SEQ_MOD < _SEQ_MOD // 2


def _reason(error: object) -> str:
    """A connection failure in words ("Connection refused", not "[Errno 111] Connect call
    failed ('127.0.0.1', 5222)")."""
    if isinstance(error, OSError) and error.errno:
        return os.strerror(error.errno)
    return str(error)


class _Gate(MatcherBase):
    """A handler's matcher behind cheap checks: the stanza's root element (and a child it
    needs), and whether anyone listens to the only event the handler raises. slixmpp runs
    every handler's matcher on every incoming stanza; most of them cost 5-30 us each, and
    none but ours and the pubsub one can match a chat message."""

    def __init__(
        self,
        inner: MatcherBase,
        root: str | None,
        child: str | None,
        heard: Callable[[], bool] | None,
    ) -> None:
        super().__init__(inner._criteria)
        self._inner, self._root, self._child, self._heard = inner, root, child, heard

    def match(self, xml: Any) -> bool:
        element: ET.Element = xml.xml
        if self._root is not None and element.tag != self._root:
            return False
        if self._child is not None and element.find(self._child) is None:
            return False
        if self._heard is not None and not self._heard():
            return False
        return bool(self._inner.match(xml))


def _root_of(matcher: MatcherBase) -> str | None:
    """The root element a `MatchXPath` or `StanzaPath` can match (`{ns}name`), or None
    when it cannot be told cheaply."""
    if isinstance(matcher, StanzaPath):
        first = matcher._raw_criteria.split("/", 1)[0].split("@", 1)[0]
        return f"{{{CLIENT}}}{first}" if first.isalpha() else None
    if isinstance(matcher, MatchXPath):
        criteria = matcher._criteria
        if not criteria.startswith("{"):
            return None
        close = criteria.find("}")
        name = criteria[close + 1 :].split("/", 1)[0]
        return criteria[: close + 1] + name if close > 0 and name.isalpha() else None
    return None


def _gate_handlers(xmpp: slixmpp.ClientXMPP) -> None:
    """Put `_Gate`s in front of the stream's `MatchXPath`/`StanzaPath` handlers (what they
    match is unchanged; they only stop costing time on stanzas they can never match)."""
    handlers = getattr(xmpp, "_XMLStream__handlers", None)
    if not isinstance(handlers, list):
        return  # another slixmpp layout: leave the handlers as they are
    for handler in handlers:
        matcher = handler._matcher
        root = _root_of(matcher)
        event = _ONLY_RAISE.get(handler.name)
        heard = None if event is None else _listened(xmpp, event)
        if root is not None or heard is not None:
            handler._matcher = _Gate(matcher, root, _NEEDS_CHILD.get(handler.name), heard)


def _listened(xmpp: slixmpp.ClientXMPP, event: str) -> Callable[[], bool]:
    return lambda: xmpp.event_handled(event) > 0


def _tune_socket(xmpp: slixmpp.ClientXMPP) -> None:
    """TCP_NODELAY (an XMPP stanza is one small write; Nagle plus delayed ACKs would hold it
    back) and reads of at most `READ_SIZE` bytes."""
    transport: Any = xmpp.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if hasattr(transport, "max_size"):
        transport.max_size = READ_SIZE
