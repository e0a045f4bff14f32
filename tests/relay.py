"""Network faults for tests over the Prosody fixture.

`Relay` is a TCP relay in front of Prosody that a test can take down and bring back on the same
port (a network that drops and returns), make fall silent when a client chunk matches
(`silence_when`: a server that stopped answering, its sockets left open), or cut at a byte
offset (`arm`: a flaky mobile link, a NAT timeout, a proxy): the bytes before the offset are
relayed, then both sides of that connection are reset. A cut may wait for an element (inside
the `<message>` the client sends, inside the server's `<a/>` or `<r/>` …) and falls at a random
offset strictly inside it, drawn from the relay's seeded `random.Random`. `Gate` is a reconnect
`pause` for `XmppClient` that holds every attempt until the test opens it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

_ENDS = {b"<message": b"</message>"}
"""Where an element that may have children ends; others end at their first `>`."""


@dataclass(frozen=True, slots=True)
class Cut:
    """One armed cut: in the client's direction (`upstream`) or the server's, inside the
    first element that starts with `element` (None: anywhere in the next chunk)."""

    upstream: bool
    element: bytes | None = None


def cut_offset(data: bytes, element: bytes | None, rng: random.Random) -> int | None:
    """Where to cut `data`: a random offset strictly inside the first `element` that
    starts in it (None when none does), or anywhere inside the chunk."""
    if element is None:
        return rng.randint(1, len(data) - 1) if len(data) > 1 else None
    start = data.find(element)
    if start < 0:
        return None
    closing = _ENDS.get(element, b">")
    end = data.find(closing, start + len(element))
    end = len(data) if end < 0 else end + len(closing)
    return rng.randint(start + 1, end - 1)


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

    def __init__(
        self,
        target_port: int,
        silence_when: Callable[[bytes], bool] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._target = target_port
        self._silence_when = silence_when
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._rng = rng or random.Random(0)
        self._armed: deque[Cut] = deque()
        self.cuts: list[tuple[Cut, int]] = []
        """The cuts made: each with the offset in the chunk it fell in."""
        self.port = 0

    def arm(self, cut: Cut) -> None:
        """Cut the next chunk of a relayed connection that `cut` matches (cuts fire in the
        order they were armed)."""
        self._armed.append(cut)

    def loosen(self) -> None:
        """Let the armed cuts fall anywhere in the next chunk of their direction."""
        self._armed = deque(Cut(cut.upstream) for cut in self._armed)

    @property
    def armed(self) -> int:
        """How many armed cuts have not fired yet."""
        return len(self._armed)

    def _cut_here(self, data: bytes, upstream: bool) -> int | None:
        if not self._armed or self._armed[0].upstream != upstream:
            return None
        cut = self._armed[0]
        offset = cut_offset(data, cut.element, self._rng)
        if offset is not None:
            self._armed.popleft()
            self.cuts.append((cut, offset))
        return offset

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
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._target)
        self._writers |= {writer, upstream_writer}
        silent = asyncio.Event()

        def silenced(data: bytes, upstream: bool) -> bool:
            if upstream and self._silence_when is not None and self._silence_when(data):
                silent.set()
            return silent.is_set()

        def reset() -> None:
            for end in (writer, upstream_writer):
                end.transport.abort()
                self._writers.discard(end)

        async def pipe(
            source: asyncio.StreamReader, sink: asyncio.StreamWriter, upstream: bool
        ) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    if silenced(data, upstream):
                        continue
                    offset = self._cut_here(data, upstream)
                    sink.write(data if offset is None else data[:offset])
                    await sink.drain()
                    if offset is not None:
                        reset()
                        return
            if not silent.is_set():
                sink.transport.abort()
                self._writers.discard(sink)

        await asyncio.gather(
            pipe(reader, upstream_writer, True), pipe(upstream_reader, writer, False)
        )
