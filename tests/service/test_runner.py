"""The DB runner's contract (DESIGN.md §6): one thread owns the connection, calls run in the
order they were submitted, a call's exception reaches its caller, a call whose caller gave up
before the thread reached it is skipped, and `close` finishes the queued work first."""

from __future__ import annotations

import asyncio
import gc
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devtools.keyrings import DictKeyring
from tui_omemo.service.runner import THREAD_NAME, DbRunner
from tui_omemo.store import KeyringKeys, UnitOfWork, open_profile


@pytest.fixture
async def runner(tmp_path: Path) -> AsyncIterator[DbRunner]:
    keys = KeyringKeys(DictKeyring(), service=f"tui-omemo-test-{uuid.uuid4().hex}")
    database = open_profile(tmp_path / "profile", keys)
    runner = DbRunner(database)
    yield runner
    await runner.close()
    database.close()


async def test_every_call_runs_on_the_one_named_thread_in_submission_order(
    runner: DbRunner,
) -> None:
    """Calls submitted together run one after the other, in order, all on the runner's own
    thread (never the event loop's)."""
    seen: list[tuple[int, str]] = []

    def record(n: int) -> int:
        seen.append((n, threading.current_thread().name))
        return n * 2

    results = await asyncio.gather(*(runner.run(record, n) for n in range(50)))
    assert results == [n * 2 for n in range(50)]
    assert [n for n, _ in seen] == list(range(50))
    names = {name for _, name in seen}
    assert len(names) == 1
    assert names.pop().startswith(THREAD_NAME)
    assert threading.current_thread().name not in names


async def test_a_failing_call_raises_in_its_caller_and_the_next_call_still_runs(
    runner: DbRunner,
) -> None:
    """The exception of a call (a failed unit of work too, rolled back) reaches the caller
    that submitted it; the thread keeps serving."""

    def fail(uow: UnitOfWork) -> None:
        uow.settings.set("probe", "written")
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        await runner.write(fail)
    assert await runner.read(lambda uow: uow.settings.get("probe")) is None


async def test_a_call_cancelled_before_the_thread_reached_it_is_skipped(
    runner: DbRunner,
) -> None:
    """While the thread is busy, a queued call whose caller was cancelled never runs; the
    calls after it do."""
    busy, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def block() -> None:
        busy.set()
        release.wait(5)

    first = asyncio.ensure_future(runner.run(block))
    await asyncio.to_thread(busy.wait, 5)
    dropped = asyncio.ensure_future(runner.run(ran.append, "dropped"))
    kept = asyncio.ensure_future(runner.run(ran.append, "kept"))
    await asyncio.sleep(0)
    dropped.cancel()
    release.set()
    await first
    await kept
    assert ran == ["kept"]


async def test_close_finishes_queued_work_then_refuses_new_calls(runner: DbRunner) -> None:
    """`close` lets every call queued before it run, stops the thread, and later calls fail
    with a clear error."""
    done: list[int] = []
    thread = await runner.run(threading.current_thread)
    queued = [asyncio.ensure_future(runner.run(done.append, n)) for n in range(5)]
    await asyncio.sleep(0)
    await runner.close()
    await asyncio.gather(*queued)
    assert done == list(range(5))
    assert not thread.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        await runner.run(done.append, 6)


async def test_a_runner_dropped_without_close_stops_its_thread(tmp_path: Path) -> None:
    """A runner nobody closed does not leave its thread waiting forever once it is gone (as
    an executor's worker did not)."""
    keys = KeyringKeys(DictKeyring(), service=f"tui-omemo-test-{uuid.uuid4().hex}")
    database = open_profile(tmp_path / "dropped", keys)
    dropped = DbRunner(database)
    thread = await dropped.run(threading.current_thread)
    del dropped
    gc.collect()
    await asyncio.to_thread(thread.join, 5)
    assert not thread.is_alive()
    database.close()
