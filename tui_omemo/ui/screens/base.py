"""`ServiceScreen`: the base of every screen that calls the service from workers.

The service may fail (the server went away, the store refused): a worker's exception must not
end the app. Workers run with `exit_on_error=False`, and this base turns a failed worker into an
error toast with the worker's description and the error's one-line message.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.worker import Worker, WorkerState


def failure_words(worker: Worker[object]) -> str | None:
    """ "<what was being done>: <why it failed>" for a failed worker, else None."""
    if worker.state is not WorkerState.ERROR or worker.error is None:
        return None
    return f"{worker.description or 'background task'}: {worker.error}"


class ServiceScreen(Screen[None]):
    """A screen whose failed workers are shown, not fatal."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        words = failure_words(event.worker)
        if words is not None:
            self.notify(words, title="Something failed", severity="error", markup=False)
