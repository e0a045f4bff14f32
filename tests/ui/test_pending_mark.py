"""The chat log shows a clock mark on our messages the server has not confirmed (issue #4) and
drops it when the service says the message was delivered."""

from __future__ import annotations

from dataclasses import replace

from textual.app import App, ComposeResult

from tests.fakes_ui import BOB, NOW, FakeService
from tui_omemo.service.api import Delivery, HistoryPage
from tui_omemo.ui.clock import Clock
from tui_omemo.ui.widgets.message_log import PENDING_MARK, MessageLog


class Harness(App[None]):
    def __init__(self, log: MessageLog) -> None:
        super().__init__()
        self.log_widget = log

    def compose(self) -> ComposeResult:
        yield self.log_widget


def painted(log: MessageLog) -> str:
    return "\n".join(
        "".join(segment.text for segment in log.render_line(y)) for y in range(log.size.height)
    )


async def test_a_pending_message_shows_a_clock_until_it_is_delivered() -> None:
    service = FakeService()
    service.generate(BOB, 3)
    page = await service.history(BOB, None, 50)
    newest = replace(page.messages[-1], outgoing=True, delivery=Delivery.PENDING)
    log = MessageLog(Clock.frozen(NOW))
    async with Harness(log).run_test(size=(80, 10)) as pilot:
        log.set_history(HistoryPage((*page.messages[:-1], newest), None))
        await pilot.pause(0.05)
        assert painted(log).count(PENDING_MARK) == 1
        log.mark_delivered(newest.archive_id)
        await pilot.pause(0.05)
        assert PENDING_MARK not in painted(log)
        assert log.messages[-1].delivery is Delivery.SENT
