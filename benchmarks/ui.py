"""On-demand UI measurements: `python -m benchmarks.ui` (headless, FakeService data).

* start to first frame: app construction until the roster is on screen;
* opening a chat with 100,000 archived messages, next to one with 100 (the log is virtual and
  paged, so both should cost the same);
* 1,000 incoming messages while that chat is open;
* memory growth (RSS) at 100,000 messages: after opening the big chat, and after scrolling the
  whole archive into the log;
* the longest time the event loop was blocked (a 5 ms ticker measures lateness).

Full garbage collections of a Textual process take 100–200 ms on a small machine; the composition
root is expected to call `gc.freeze()` once the app is up, which the benchmark does too (pass
`--no-freeze` to see the difference; `--help` lists the options).

Numbers go to stdout, one line each, against the targets of the issue.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from devtools.fakes_ui import NOW, FakeService
from tui_omemo.service.api import MessageReceived
from tui_omemo.ui.app import TuiOmemoApp
from tui_omemo.ui.clock import Clock
from tui_omemo.ui.screens.chat import ChatScreen
from tui_omemo.ui.widgets.message_log import MessageLog

SIZE = (100, 32)
BIG, SMALL = "big@example.org", "small@example.org"
TICK = 0.005


def parse_args(argv: list[str]) -> argparse.Namespace:
    """`--no-freeze` (leave the GC alone) and `--size N` (messages in the big chat)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ui",
        description="Headless UI measurements on FakeService data, printed against the "
        "targets of issue 6: first frame, opening a big chat, a burst of incoming "
        "messages, the longest loop block and memory growth.",
    )
    parser.add_argument(
        "--no-freeze",
        action="store_true",
        help="do not call gc.freeze() after the first frame (shows what full GCs cost)",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=100_000,
        help="archived messages in the big chat (default: 100000)",
    )
    return parser.parse_args(argv)


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class LagMeter:
    """Measures how late a 5 ms ticker wakes up: the longest blocked stretch of the loop."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(TICK)
            self.worst = max(self.worst, time.perf_counter() - start - TICK)

    def start(self) -> None:
        self.worst = 0.0
        self._task = asyncio.get_running_loop().create_task(self._tick())

    def stop(self) -> float:
        if self._task is not None:
            self._task.cancel()
        return self.worst * 1000


async def until(condition: Callable[[], bool]) -> None:
    """Poll every millisecond until `condition` holds (at most ~30 s)."""
    for _ in range(30_000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise TimeoutError("condition never held")


async def open_timed(app: TuiOmemoApp, pilot: object, jid: str) -> tuple[float, float]:
    """(wall, CPU) milliseconds from asking for a chat until its first page is in the log.

    The CPU time of this process is reported too: on a shared machine it moves less than the
    wall-clock time.
    """
    start, cpu = time.perf_counter(), time.process_time()
    app.open_chat(jid)

    def ready() -> bool:
        screen = app.screen
        return (
            isinstance(screen, ChatScreen)
            and screen.peer == jid
            and bool(screen.query_one(MessageLog).messages)
        )

    await until(ready)
    return (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000


async def median_open(
    app: TuiOmemoApp, pilot: object, jid: str, *, keep_open: bool = False
) -> tuple[float, float]:
    """The median of five timed openings of `jid` (the machine may be shared)."""
    times = []
    for attempt in range(5):
        times.append(await open_timed(app, pilot, jid))
        if attempt < 4 or not keep_open:
            app.pop_screen()
            await asyncio.sleep(0.05)
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


async def main(options: argparse.Namespace) -> None:
    """Run every measurement once and print one line each."""
    freeze = not options.no_freeze
    service = FakeService()
    service.generate(BIG, options.size)
    service.generate(SMALL, 100)
    meter = LagMeter()
    start = time.perf_counter()
    app = TuiOmemoApp(service, clock=Clock.frozen(NOW))
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: type(app.screen).__name__ == "RosterScreen")
        await pilot.pause()
        first_frame = (time.perf_counter() - start) * 1000
        if freeze:
            gc.freeze()  # what the composition root does once the app is up (see report)
        meter.start()
        await open_timed(app, pilot, SMALL)  # the first ChatScreen also parses its styles
        app.pop_screen()
        small = await median_open(app, pilot, SMALL)
        gc.collect()
        before = rss_mb()
        big = await median_open(app, pilot, BIG, keep_open=True)
        open_lag = meter.stop()
        meter.start()
        gc.collect()
        after_open = rss_mb()
        log = app.screen.query_one(MessageLog)
        burst_start = time.perf_counter()
        for index in range(1000):
            service.emit(MessageReceived(service.next_message(BIG, f"incoming {index}")))
        await until(lambda: log.messages[-1].body == "incoming 999")
        burst = (time.perf_counter() - burst_start) * 1000
        lag = meter.stop()
        whole_start = time.perf_counter()
        before_id = log.messages[0].archive_id
        while before_id > 1:
            page = await service.history(BIG, before_id, 10_000)
            log.prepend(page)
            before_id = page.messages[0].archive_id
        whole = time.perf_counter() - whole_start
        gc.collect()
        after_all = rss_mb()
        loaded = len(log.messages)
    report = [
        ("start to first frame", f"{first_frame:.0f} ms", "< 500 ms"),
        ("open chat with 100 messages (median of 5)", f"{small[0]:.1f} ms", ""),
        ("  … CPU time of that", f"{small[1]:.1f} ms", ""),
        (f"open chat with {options.size:,} messages (median)", f"{big[0]:.1f} ms", "< 100 ms"),
        ("  … CPU time of that", f"{big[1]:.1f} ms", ""),
        ("1,000 incoming messages, chat open", f"{burst:.0f} ms total", ""),
        ("longest loop block while opening", f"{open_lag:.1f} ms", "< 50 ms"),
        ("longest loop block during the burst", f"{lag:.1f} ms", "< 50 ms"),
        ("memory growth, 100k chat opened", f"{after_open - before:.1f} MB", "< 50 MB"),
        (f"memory growth, all {loaded:,} loaded", f"{after_all - before:.1f} MB", "< 50 MB"),
        ("loading the whole archive into the log", f"{whole:.1f} s", ""),
    ]
    print(f"(gc.freeze() after the first frame: {'yes' if freeze else 'no'})")
    for name, value, target in report:
        print(f"{name:<40} {value:>16}  {target}")


if __name__ == "__main__":
    asyncio.run(main(parse_args(sys.argv[1:])))
