"""`Connection`: the stream of one `XmppClient`: connect, login, reconnect, requests on it.

It connects (TLS required before any login or stanza, certificates and login mechanisms
checked: see `secure`; plaintext only on a loopback address and only when the caller says so
explicitly), fails fast when nobody answers, uses stream management (XEP-0198) when the
server offers it and enables carbons.

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

The other concerns of the client (inbound messages, roster, PEP, archives) hook their handlers
into each new stream through `setup`, and send through `live()` and `answer()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

import tui_omemo.xmpp.xep_0384  # registers the plugin with slixmpp
from tui_omemo.model import bare_jid
from tui_omemo.xmpp import dead_stream
from tui_omemo.xmpp.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    InsecureConnectionRefused,
    NotConnected,
    TransportError,
)
from tui_omemo.xmpp.link import ConnectionListener, Link, Pause, is_loopback
from tui_omemo.xmpp.outgoing import SM, Outgoing, covers, restart_counts
from tui_omemo.xmpp.secure import REFUSED, SecureStream, StreamSecurity
from tui_omemo.xmpp.tuning import gate_handlers, stamp_caps_in_sync, tune_socket
from tui_omemo.xmpp.xep_0384 import XEP_0384

log = logging.getLogger(__name__)
_T = TypeVar("_T")

REQUEST_TIMEOUT = 30
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


def _reason(error: object) -> str:
    """A connection failure in words ("Connection refused", not "[Errno 111] Connect call
    failed ('127.0.0.1', 5222)")."""
    if isinstance(error, OSError) and error.errno:
        return os.strerror(error.errno)
    return str(error)


Setup = Callable[[SecureStream], None]
"""Registers a concern's handlers on a new stream (before the handlers are gated)."""


class Connection:
    """The stream of one account (arguments as `XmppClient`'s, plus `setup`).

    Raises:
        InsecureConnectionRefused: when plaintext is asked for on a non-loopback address.
    """

    def __init__(
        self,
        jid: str,
        password: str,
        *,
        host: str | None,
        port: int,
        allow_plaintext_loopback: bool,
        reconnect: bool,
        resume: bool,
        pause: Pause,
        security: StreamSecurity | None,
        setup: Setup,
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
        """What the connection listeners heard last."""
        self._unannounced = False
        """A fresh session started and was not announced (ONLINE) yet: a resumption of it
        resumes a stream the listeners never heard of, and is announced as a fresh one."""
        self._acked_before = 0
        """The server's last count of our stanzas before a connection attempt."""
        self._stream_gone: asyncio.Future[None] | None = None
        """Set when the stream our pending requests went out on is replaced or closed."""
        self._connection_listeners: list[ConnectionListener] = []
        self._setup = setup
        self.outgoing = Outgoing(lambda: self._xmpp)

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
        return self.current()

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
        xmpp = self.current()
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
        xmpp = self.current()
        if resumed and self._unannounced:
            # lost before it was announced: what the last announced stream took is not in it
            resumed = False
        if not resumed:
            self._unannounced = True
            self._retire_stream()
        if not xmpp.is_connected():  # lost since the session start: nobody was told
            return False
        if resumed and not covers(dead_stream.acked(xmpp), self._acked_before):
            # its <resumed h> is behind an <a h> it sent before: what it counted is unknown
            log.warning("the server resumed the stream behind its own count; a fresh session")
            dead_stream.drop_silent(xmpp)
            return False
        if resumed:
            self._online = True
            self.outgoing.ask_again(xmpp)
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
        self._setup(xmpp)
        xmpp.register_handler(
            Callback(
                "tui-omemo acks", MatchXPath(f"{{{SM}}}a"), self.outgoing.on_ack, instream=True
            )
        )
        xmpp.add_event_handler("connected", lambda _: self._tune_socket_soon(xmpp))
        xmpp.add_event_handler("session_bind", lambda _: restart_counts(xmpp))
        xmpp.add_filter("out_sync", self.outgoing.filter)
        xmpp.add_event_handler("disconnected", self._on_disconnected)
        stamp_caps_in_sync(xmpp)
        gate_handlers(xmpp)
        return xmpp

    def _tune_socket_soon(self, xmpp: slixmpp.ClientXMPP) -> None:
        # "connected" fires inside connection_made, before slixmpp stores the transport.
        asyncio.get_running_loop().call_soon(tune_socket, xmpp)

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
        self.outgoing.retire()  # `answer` fails the pings that waited on it
        gone, self._stream_gone = self._stream_gone, None
        if gone is not None and not gone.done():
            gone.set_result(None)

    async def answer(self, request: Awaitable[_T]) -> _T:
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

    def current_or_none(self) -> SecureStream | None:
        """The stream (None before `connect` or after `disconnect`), whether up or not."""
        return self._xmpp

    def current(self) -> SecureStream:
        """The stream, whether up or not.

        Raises:
            NotConnected: before `connect` or after `disconnect`.
        """
        if self._xmpp is None:
            raise NotConnected("not connected")
        return self._xmpp

    def live(self) -> slixmpp.ClientXMPP:
        """The stream while a session is up. A stanza handed to slixmpp while the stream is
        down (reconnecting) would be dropped without a word, so it is refused here instead.

        Raises:
            NotConnected: no session (never connected, reconnecting, or disconnected).
        """
        if not self._online:
            task = self._reconnecting
            state = "reconnecting" if task is not None and not task.done() else "offline"
            raise NotConnected(f"not connected to the server ({state})")
        return self.current()

    def send_presence(self, show: str = "", status: str = "") -> None:
        """Announce our availability (with `+notify` caps; `show` away/dnd/xa and a `status`
        text when given); the server then pushes the messages it stored while offline."""
        self.live().send_presence(pshow=show or None, pstatus=status or None)

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
        xmpp = self.live()
        plugins: Any = xmpp.plugin
        try:
            if plugins["xep_0198"].enabled_out:
                await asyncio.wait_for(self.answer(self.outgoing.acked(xmpp)), within)
            else:
                await self.answer(plugins["xep_0199"].ping(timeout=within))
        except IqError as error:
            raise TransportError(f"the server refused a ping: {error.condition}") from error
        except (IqTimeout, TimeoutError) as error:
            if self._xmpp is xmpp:
                dead_stream.drop_silent(xmpp)  # a reconnect follows, as for any broken stream
            raise TransportError(f"the server did not answer a ping within {within:g} s") from error

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
        xmpp = self.live()
        iq: Any = xmpp.make_iq_get(ito=to) if iq_type == "get" else xmpp.make_iq_set(ito=to)
        if payload is not None:
            iq.xml.append(payload)
        try:
            result = await self.answer(iq.send(timeout=within))
        except IqError as error:
            raise TransportError(f"{what}: {error.condition}") from error
        except IqTimeout as error:
            raise TransportError(f"{what}: no answer in time") from error
        xml: ET.Element = result.xml
        return xml
