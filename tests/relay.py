"""Network faults for tests over the Prosody fixture.

`Relay` is a TCP relay in front of Prosody that a test can take down and bring back on the same
port (a network that drops and returns), or make fall silent when a client chunk matches
(`silence_when`: a server that stopped answering, its sockets left open). `Gate` is a reconnect
`pause` for `XmppClient` that holds every attempt until the test opens it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


class Gate:
    """A `pause` for XmppClient: records each attempt and waits until opened."""

    def __init__(self) -> None:
        self.attempts: list[int] = []
        self._open = asyncio.Event()

    async def __call__(self, attempt: int) -> None:
        self.attempts.append(attempt)
        await self._open.wait()

    def open(self) -> None:
        self._open.set()


class Relay:
    """A TCP relay from a local port to Prosody on `target_port`.

    `silence_when(chunk)` sees each chunk a client sends; once it returns True, that
    connection relays nothing more in either direction and keeps its sockets open.
    """

    def __init__(self, target_port: int,
                 silence_when: Callable[[bytes], bool] | None = None) -> None:
        self._target = target_port
        self._silence_when = silence_when
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def __aenter__(self) -> Relay:
        await self.up()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.down()

    async def up(self) -> None:
        """Listen (again, on the same port once one was chosen)."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        """Stop listening and cut every relayed connection."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1",
                                                                         self._target)
        self._writers |= {writer, upstream_writer}
        silent = asyncio.Event()

        def silenced(data: bytes, upstream: bool) -> bool:
            if upstream and self._silence_when is not None and self._silence_when(data):
                silent.set()
            return silent.is_set()

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter,
                       upstream: bool) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    if silenced(data, upstream):
                        continue
                    sink.write(data)
                    await sink.drain()
            if not silent.is_set():
                sink.transport.abort()
                self._writers.discard(sink)

        await asyncio.gather(pipe(reader, upstream_writer, True),
                             pipe(upstream_reader, writer, False))
