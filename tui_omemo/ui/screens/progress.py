"""`ProgressScreen`: what the app is doing before the roster can show (first run, logging in).

The app calls `step(text)` as each stage begins (creating the profile and keys, logging in and
publishing them, catching up); earlier steps are then shown as done. `fail(reason)` marks the
current step as failed, shows the one-line reason and offers a retry (`r`), which is posted as
`RetryRequested`; with `account=True` it also offers the account screen (`a`: password,
server, or the refused certificate given to `fail`), posted as `AccountRequested`. The step
texts may hold what the user typed (a JID), so they are drawn as text, never as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from tui_omemo.service.api import RefusedCertificate
from tui_omemo.ui.text import neutral

DONE, CURRENT, FAILED = "✓", "…", "✗"


class ProgressScreen(Screen[None]):
    """The steps of opening the profile and going online."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "retry", "Retry", show=False),
        Binding("a", "account", "Account", show=False),
    ]

    @dataclass
    class RetryRequested(Message):
        """The user asked to try the failed step again."""

        screen: ProgressScreen

    @dataclass
    class AccountRequested(Message):
        """The user asked for the account screen after a failure (to fix the login)."""

        screen: ProgressScreen

    def __init__(self, title: str, *, account: bool = False) -> None:
        super().__init__()
        self._title = title
        self._account = account
        self._steps: list[str] = []
        self._failed = False
        self._reason = ""
        self._certificate: RefusedCertificate | None = None
        self._composed = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="progress"):
            yield Static(Text(neutral(self._title, single_line=True)), classes="dialog-title")
            yield Static("", id="steps")
            yield Static("", id="error", classes="error", markup=False)
            yield Static("", id="retry", classes="hint -hidden")

    @property
    def steps(self) -> tuple[str, ...]:
        """The steps shown so far, oldest first."""
        return tuple(self._steps)

    @property
    def failed(self) -> bool:
        """Whether the last step failed (and a retry is offered)."""
        return self._failed

    def on_mount(self) -> None:
        self._composed = True
        self._draw()

    def step(self, text: str) -> None:
        """A new step began; the ones before it are done (a failed one is being retried)."""
        if self._failed:
            self._steps.pop()
        self._steps.append(neutral(text, single_line=True))
        self._failed = False
        self._draw()

    def fail(self, reason: str, certificate: RefusedCertificate | None = None) -> None:
        """The current step failed for `reason` (one line for the user); `certificate`: the
        server certificate the login refused, for the account screen to show."""
        self._failed = True
        self._reason = neutral(reason)
        self._certificate = certificate
        self._draw()

    @property
    def reason(self) -> str:
        """Why the last step failed ("" while nothing failed)."""
        return self._reason if self._failed else ""

    @property
    def certificate(self) -> RefusedCertificate | None:
        """The server certificate the failed login refused, if that is why it failed."""
        return self._certificate if self._failed else None

    def _keys(self) -> str:
        """The keys offered after a failure."""
        account = ""
        if self._account:
            account = (
                "a: compare and pin the certificate · "
                if self.certificate is not None
                else "a: fix the account (password, server) · "
            )
        return f"{account}r: try again · ctrl+q: quit"

    def action_account(self) -> None:
        """Open the account screen after a failure."""
        if self._failed and self._account:
            self.post_message(self.AccountRequested(self))

    def action_retry(self) -> None:
        """Try again after a failure."""
        if self._failed:
            self.post_message(self.RetryRequested(self))

    def _draw(self) -> None:
        """Show the steps and the failure (steps may come before the screen is mounted)."""
        if not self._composed:
            return
        text = Text()
        last = len(self._steps) - 1
        for index, step in enumerate(self._steps):
            mark = DONE if index < last else (FAILED if self._failed else CURRENT)
            style = "bold" if index == last else ""
            text.append(f"{mark} {step}", style=style)
            if index < last:
                text.append("\n")
        self.query_one("#steps", Static).update(text)
        self.query_one("#error", Static).update(self._reason if self._failed else "")
        retry = self.query_one("#retry", Static)
        retry.update(self._keys())
        retry.set_class(not self._failed, "-hidden")
