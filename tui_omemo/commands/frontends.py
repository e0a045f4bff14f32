"""One profile, several front ends: commands served by the instance that holds the profile.

While the app or `listen` runs, it holds the profile lock, and a second process could not open
the database (one writer). Instead the running instance listens on a Unix socket in the profile
directory (`SOCKET_NAME`, mode 0600 in an owner-only directory; connections from another user
are refused by their peer credentials; there is no network socket). A served command
(`SERVED_COMMANDS`) first tries that socket: it hands over its argument list and its own
standard input, output and error (the descriptors themselves, `SCM_RIGHTS`), the running
instance runs the very same command code on them and answers with the exit status. Output,
errors and exit codes are therefore those of the command run alone.

How the same code runs inside the running instance: `cli.main` runs in a thread of its own with
`_BORROWED` set. There `open_database` hands out a `BorrowedDatabase` (each transaction runs
while the service's DB thread waits for it, so the connection is used by one thread at a time and
the service stays the one writer), `runtime.online` yields the running service instead of
logging in, and `run` (the commands' `asyncio.run`) runs the command's coroutine on the running
event loop, where the service lives.

A socket left by a killed process refuses connections: the client removes it and runs the
command alone. The server binds under a temporary name and renames it into place once it
listens, so a socket at `SOCKET_NAME` that refuses is always stale.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import json
import os
import socket
import struct
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from tui_omemo.commands.console import Console

if TYPE_CHECKING:
    from tui_omemo.commands.runtime import Online
    from tui_omemo.config import Settings
    from tui_omemo.service.profiles import Database, UnitOfWork

T = TypeVar("T")

SOCKET_NAME = "commands.sock"
SERVED_COMMANDS = frozenset(
    {"send", "history", "devices", "trust", "settings", "status", "download", "send-file"}
)
"""Commands a running instance serves (and `muc send`)."""
FAILED = 1
_HEADER = struct.Struct("!I")
_STATUS = struct.Struct("!i")
_MAX_REQUEST = 16 * 1024 * 1024
_SUN_PATH_MAX = 100

Dispatch = Callable[[Sequence[str], Console], int]
DISPATCH: contextvars.ContextVar[Dispatch | None] = contextvars.ContextVar(
    "tui_omemo_dispatch", default=None
)
"""The command line's entry point (`cli.main`), handed in by the composition root: commands
cannot import it, and without it a running instance serves nothing."""


@dataclass(frozen=True, slots=True)
class _Borrowed:
    """What a served command uses instead of opening the profile and logging in."""

    running: Online
    loop: asyncio.AbstractEventLoop
    database: BorrowedDatabase


_BORROWED: contextvars.ContextVar[_Borrowed | None] = contextvars.ContextVar(
    "tui_omemo_borrowed", default=None
)


def borrowed_online() -> Online | None:
    """The running service when this command is served by a running instance, else None."""
    borrowed = _BORROWED.get()
    return None if borrowed is None else borrowed.running


def borrowed_database() -> Database | None:
    """The running instance's database when this command is served by it, else None (a
    `BorrowedDatabase`: the part of `Database` the commands use)."""
    borrowed = _BORROWED.get()
    return None if borrowed is None else cast("Database", borrowed.database)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(coroutine)`, or, when served, run it on the running instance's loop."""
    borrowed = _BORROWED.get()
    if borrowed is None:
        return asyncio.run(coroutine)
    return asyncio.run_coroutine_threadsafe(_inside(borrowed, coroutine), borrowed.loop).result()


def update_setting(key: str, value: str) -> Settings | None:
    """Served: change one setting through the running service, so its settings stay those
    of the database and a change of presence is announced at once; None when not served.

    Raises:
        ValueError: unknown key or bad value (as `Settings.with_value`).
    """
    borrowed = _BORROWED.get()
    if borrowed is None:
        return None
    return run(borrowed.running.service.update_setting(key, value))


async def _inside(borrowed: _Borrowed, coroutine: Coroutine[Any, Any, T]) -> T:
    _BORROWED.set(borrowed)  # this task's own context: what it starts sees it too
    return await coroutine


class BorrowedDatabase:
    """The running service's database, lent to a served command for one transaction at a time.

    Each `snapshot()`/`unit_of_work()` first parks the service's DB thread (a job that waits
    until the block is over), so the connection is never used by two threads at once and every
    write still goes through the one connection. `close()` gives nothing back: the service
    keeps the database.
    """

    def __init__(self, running: Online, loop: asyncio.AbstractEventLoop) -> None:
        self._runner = running.service.runner
        self._loop = loop
        self._loop_thread = threading.current_thread()

    @property
    def directory(self) -> Path:
        """The profile directory."""
        return self._runner.database.directory

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[UnitOfWork]:
        """A read transaction, while the DB thread waits."""
        with self._parked(), self._runner.database.snapshot() as uow:
            yield uow

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """A write transaction, while the DB thread waits."""
        with self._parked(), self._runner.database.unit_of_work() as uow:
            yield uow

    def close(self) -> None:
        """Nothing: the running instance keeps its database open."""

    def __enter__(self) -> BorrowedDatabase:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _parked(self) -> Iterator[None]:
        if threading.current_thread() is self._loop_thread:
            raise RuntimeError("a borrowed transaction would block the event loop")
        granted, done = threading.Event(), threading.Event()

        def park() -> None:
            granted.set()
            done.wait()

        job = asyncio.run_coroutine_threadsafe(self._runner.run(park), self._loop)
        while not granted.wait(0.1):
            if job.done():  # the runner is closed: the instance is shutting down
                job.result()
                raise RuntimeError("the running instance closed its database")
        try:
            yield
        finally:
            done.set()
            job.result()


# --- the client side ---------------------------------------------------------------------


def is_served(args: argparse.Namespace) -> bool:
    """Whether the parsed command is one a running instance serves."""
    command = getattr(args, "command", None)
    if command == "muc":
        return getattr(args, "muc_action", None) == "send"
    return command in SERVED_COMMANDS


def forward(directory: Path, argv: Sequence[str], console: Console) -> int | None:
    """Have the instance that holds the profile in `directory` run the command.

    Returns:
        The command's exit status, or None when no instance serves this profile (no socket,
        or a stale one, which is removed) or the console has no real descriptors to hand over:
        the caller runs the command alone.
    """
    if _BORROWED.get() is not None:
        return None  # already served: never forward to ourselves
    client = _connected(directory / SOCKET_NAME)
    if client is None:
        return None
    with client:
        fds = _descriptors(console)
        if fds is None:  # in-process streams (tests): run alone, as before
            return None
        request = json.dumps({"argv": list(argv)}).encode()
        socket.send_fds(client, [_HEADER.pack(len(request))], fds)
        client.sendall(request)
        answer = _receive_exactly(client, _STATUS.size)
    if answer is None:
        console.err("tui-omemo: the running instance ended before the command did")
        return FAILED
    return int(_STATUS.unpack(answer)[0])


def _connected(path: Path) -> socket.socket | None:
    """A connection to the instance listening at `path`, or None: nothing there, or a stale
    socket (removed), or one that another user listens on."""
    if not path.is_socket():
        return None
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with _short_address(path) as address:
            client.connect(address)
    except (ConnectionRefusedError, FileNotFoundError):
        client.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # nobody listens: left by a killed process
        return None
    if _peer_uid(client) != os.getuid():
        client.close()
        return None
    return client


def with_absolute_paths(argv: Sequence[str], cwd: Path) -> list[str]:
    """`argv` with the value of `-m`/`--message-file` and of `--dir` (`download`, after `~`
    is expanded as the command does) made absolute (the running instance has another working
    directory)."""
    result = list(argv)
    for index, word in enumerate(result):
        name, equals, value = word.partition("=")
        if word in {"-m", "--message-file", "--dir"} and index + 1 < len(result):
            result[index + 1] = str(cwd / _expanded(word, result[index + 1]))
        elif name in {"--message-file", "--dir"} and equals:
            result[index] = f"{name}={cwd / _expanded(name, value)}"
    return result


def _expanded(option: str, value: str) -> str:
    return os.path.expanduser(value) if option == "--dir" else value


def _descriptors(console: Console) -> list[int] | None:
    try:
        return [stream.fileno() for stream in (console.stdin, console.stdout, console.stderr)]
    except (OSError, ValueError, AttributeError):
        return None


# --- the server side ---------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serving(running: Online) -> AsyncIterator[None]:
    """Serve commands for the profile `running` holds, until the block ends."""
    dispatch = DISPATCH.get()
    if dispatch is None:
        yield
        return
    loop = asyncio.get_running_loop()
    borrowed = _Borrowed(running, loop, BorrowedDatabase(running, loop))
    directory = running.service.runner.database.directory
    listener = _listen(directory / SOCKET_NAME)
    task = asyncio.create_task(_accept(listener, borrowed, dispatch))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            (directory / SOCKET_NAME).unlink()


def _listen(path: Path) -> socket.socket:
    """A listening socket at `path` (owner-only), put there only once it listens."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with _short_address(temporary) as address:
            previous = os.umask(0o177)
            try:
                listener.bind(address)
            finally:
                os.umask(previous)
        temporary.chmod(0o600)
        listener.listen(8)
        listener.setblocking(False)
        temporary.replace(path)  # we hold the profile lock: what was there is stale
    except BaseException:
        listener.close()
        raise
    return listener


async def _accept(listener: socket.socket, borrowed: _Borrowed, dispatch: Dispatch) -> None:
    """Serve one connection after another (served commands never overlap)."""
    loop = asyncio.get_running_loop()
    while True:
        connection, _ = await loop.sock_accept(listener)
        connection.setblocking(True)
        with connection, contextlib.suppress(OSError):
            await asyncio.to_thread(_serve, connection, borrowed, dispatch)


def _serve(connection: socket.socket, borrowed: _Borrowed, dispatch: Dispatch) -> None:
    """Run one forwarded command on the client's descriptors and answer its exit status."""
    if _peer_uid(connection) != os.getuid():
        return  # another user: refused without a word
    header, fds, _flags, _address = socket.recv_fds(connection, _HEADER.size, 3)
    streams = _streams(fds)
    if streams is None or len(header) != _HEADER.size:
        return
    with contextlib.ExitStack() as stack:
        for stream in streams:
            stack.callback(_close_quietly, stream)
        (length,) = _HEADER.unpack(header)
        body = _receive_exactly(connection, length) if length <= _MAX_REQUEST else None
        if body is None:
            return
        argv = [str(word) for word in json.loads(body)["argv"]]
        console = Console(*streams, environ={}, keyring=lambda: None)
        status = _dispatched(dispatch, argv, console, borrowed)
        with contextlib.suppress(OSError):
            for stream in streams[1:]:
                stream.flush()
    connection.sendall(_STATUS.pack(status))


def _dispatched(dispatch: Dispatch, argv: list[str], console: Console, borrowed: _Borrowed) -> int:
    _BORROWED.set(borrowed)  # this thread's context (asyncio.to_thread gave it a copy)
    try:
        return dispatch(argv, console)
    except Exception as error:  # the client gets one line, the running instance goes on
        console.err(f"tui-omemo: the running instance failed: {type(error).__name__}")
        return FAILED


def _streams(fds: list[int]) -> tuple[Any, Any, Any] | None:
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        return None
    return (
        open(fds[0], encoding="utf-8", closefd=True),
        open(fds[1], "w", encoding="utf-8", closefd=True),
        open(fds[2], "w", encoding="utf-8", closefd=True),
    )


def _close_quietly(stream: Any) -> None:
    with contextlib.suppress(OSError, ValueError):
        stream.close()


def _peer_uid(connection: socket.socket) -> int:
    """The user id of the process at the other end (Linux `SO_PEERCRED`: pid, uid, gid)."""
    credentials = connection.getsockopt(
        socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")
    )
    return int(struct.unpack("3i", credentials)[1])


def _receive_exactly(connection: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


@contextlib.contextmanager
def _short_address(path: Path) -> Iterator[str]:
    """`path` as a socket address: a long path (over the ~108 bytes `sun_path` holds) goes
    through its directory's descriptor in /proc/self/fd."""
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)
