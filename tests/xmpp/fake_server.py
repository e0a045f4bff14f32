"""A hostile XMPP server for the transport-security tests: it speaks just enough of a c2s stream
(stream header, features, STARTTLS, SASL `<auth>`) to see what a client sends before TLS.

`FakeServer(mechanisms, starttls=…, certificate=…)` runs on its own thread and event loop
(so an in-process CLI, which runs `asyncio.run`, can talk to it) on a free port of 127.0.0.1.
It offers `mechanisms` (changeable between connections) and, only when it has a certificate
and `starttls` is set, `<starttls/>`. Every byte it receives before and after TLS is kept in
`received`; an `<auth>` is answered with `<failure><not-authorized/></failure>`.

It is pinned to reality by `test_fake_server_gets_auth_from_stock_slixmpp` (in
tests/xmpp/test_transport_security.py): slixmpp as it comes does send its `<auth>` to it, which
is the hole tui-omemo closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from tests.certs import Pem

STREAM_HEADER = (
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' from='{domain}' id='fake{n}' version='1.0'>"
)
SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
TLS = "urn:ietf:params:xml:ns:xmpp-tls"


@dataclass
class FakeServer:
    """See the module docstring."""

    mechanisms: list[str]
    starttls: bool = False
    certificate: Pem | None = None
    domain: str = "localhost"
    tls12: bool = False
    """Speak at most TLS 1.2 (where Python can bind SCRAM to the channel: tls-unique)."""
    received: list[bytes] = field(default_factory=list)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.Server | None = None

    @property
    def text(self) -> str:
        """Everything received so far, decoded (TLS records excluded: those are read after
        the upgrade, already decrypted)."""
        return b"".join(self.received).decode(errors="replace")

    def start(self) -> FakeServer:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._serve, "127.0.0.1", 0)
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-xmpp-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def close() -> None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)

        asyncio.run_coroutine_threadsafe(close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        assert self._thread is not None
        self._thread.join(5)
        loop.close()

    def _features(self, tls_done: bool) -> str:
        offers = "".join(f"<mechanism>{name}</mechanism>" for name in self.mechanisms)
        starttls = (
            f"<starttls xmlns='{TLS}'><required/></starttls>"
            if self.starttls and self.certificate is not None and not tls_done
            else ""
        )
        mechanisms = f"<mechanisms xmlns='{SASL}'>{offers}</mechanisms>"
        return f"<stream:features>{starttls}{mechanisms}</stream:features>"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tls_done, n = False, 0
        try:
            while True:
                chunk = await asyncio.wait_for(reader.read(65536), 30)
                if not chunk:
                    return
                if n == 0 and not chunk.lstrip().startswith(b"<"):
                    return  # a TLS ClientHello (direct TLS): this is a STARTTLS port
                self.received.append(chunk)
                text = chunk.decode(errors="replace")
                if "<stream:stream" in text:
                    n += 1
                    writer.write(
                        (
                            STREAM_HEADER.format(domain=self.domain, n=n) + self._features(tls_done)
                        ).encode()
                    )
                if "<starttls" in text and self.certificate is not None and not tls_done:
                    writer.write(f"<proceed xmlns='{TLS}'/>".encode())
                    await writer.drain()
                    await writer.start_tls(self._context())
                    tls_done = True
                if "<auth" in text:
                    writer.write(f"<failure xmlns='{SASL}'><not-authorized/></failure>".encode())
                if "</stream:stream>" in text:
                    writer.write(b"</stream:stream>")
                    return
                await writer.drain()
        except (OSError, TimeoutError, ssl.SSLError):
            return
        finally:
            writer.close()

    def _context(self) -> ssl.SSLContext:
        assert self.certificate is not None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificate.certificate, self.certificate.key)
        if self.tls12:
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        return context


@contextlib.contextmanager
def fake_server(mechanisms: list[str], **options: object) -> Iterator[FakeServer]:
    """A started `FakeServer`, stopped on exit."""
    server = FakeServer(mechanisms, **options).start()  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
