"""The one thread that owns the SQLCipher connection (DESIGN.md §6).

The store is synchronous on purpose; the event loop must never wait on it. `DbRunner` runs
every store call on a single dedicated thread, so the connection is only ever used by that
thread and calls are strictly ordered (a unit of work submitted later sees everything committed
before it). `await runner.run(fn, *args)` runs any synchronous function there; `write(fn)` and
`read(fn)` wrap `fn(uow)` in `Database.unit_of_work()` / `snapshot()` on that thread.

OMEMO state decided but not committed yet does not travel here: the pipelines hand it to
the state store explicitly (`state.Staging`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from tui_omemo.store import Database, UnitOfWork

T = TypeVar("T")

THREAD_NAME = "tui-omemo-db"


class DbRunner:
    """Runs synchronous store functions on one dedicated thread.

    Args:
        database: the opened profile; from now on only this runner's thread touches it.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
        self._closed = False

    @property
    def database(self) -> Database:
        """The database (use it only inside functions passed to `run`)."""
        return self._database

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run `fn(*args)` on the DB thread and return its result (or raise its exception).

        Raises:
            RuntimeError: the runner was closed.
        """
        if self._closed:
            raise RuntimeError("the database runner is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    async def write(self, fn: Callable[[UnitOfWork], T]) -> T:
        """Run `fn(uow)` inside one unit of work (one transaction) on the DB thread."""
        return await self.run(self._in_unit_of_work, fn)

    async def read(self, fn: Callable[[UnitOfWork], T]) -> T:
        """Run `fn(uow)` inside a read snapshot on the DB thread."""
        return await self.run(self._in_snapshot, fn)

    def _in_unit_of_work(self, fn: Callable[[UnitOfWork], T]) -> T:
        with self._database.unit_of_work() as uow:
            return fn(uow)

    def _in_snapshot(self, fn: Callable[[UnitOfWork], T]) -> T:
        with self._database.snapshot() as uow:
            return fn(uow)

    async def close(self, *, close_database: bool = False) -> None:
        """Finish queued work, stop the thread and optionally close the database on it."""
        if self._closed:
            return
        if close_database:
            await self.run(self._database.close)
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)
