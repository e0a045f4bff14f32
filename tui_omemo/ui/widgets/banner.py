"""`SecurityBanner`: the line above the composer that stops a send from surprising anyone.

It says when devices are undecided ("2 new devices of Bob: review with Ctrl+T"), when every
device of the contact is distrusted, or when the contact has no OMEMO. The parent sets its state
with the `show_…` methods or `clear`; a click posts `ReviewRequested`. Colours come from the
`-undecided`/`-no-omemo` classes in tcss.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import Static

from tui_omemo.ui.text import neutral


class SecurityBanner(Static):
    """A one-line warning; hidden (`-hidden`) when there is nothing to say."""

    @dataclass
    class ReviewRequested(Message):
        """The user clicked the banner."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False, classes="-hidden")

    def show_undecided(self, count: int, name: str) -> None:
        """`count` devices of `name` are undecided."""
        devices = "device" if count == 1 else "devices"
        self._show(
            f"⚠ {count} new {devices} of {neutral(name, single_line=True)}: "
            "review with Ctrl+T before they get your messages",
            "-undecided",
        )

    def show_no_omemo(self, name: str) -> None:
        """`name` has no OMEMO device: sending asks for an explicit plaintext choice."""
        self._show(
            f"⊘ {neutral(name, single_line=True)} has no OMEMO device: messages can only "
            "go unencrypted, and you will be asked first",
            "-no-omemo",
        )

    def show_no_trusted_device(self, name: str) -> None:
        """Every known device of `name` is distrusted: nothing we send can reach them."""
        self._show(
            f"⊘ No device of {neutral(name, single_line=True)} is trusted: your messages "
            "cannot reach them. Review with Ctrl+T",
            "-no-omemo",
        )

    def show_plaintext_chosen(self, name: str) -> None:
        """The user chose to write to `name` without encryption."""
        self._show(
            f"⊘ You chose to write to {neutral(name, single_line=True)} unencrypted: the "
            "servers on the way can read these messages",
            "-no-omemo",
        )

    def show_room_without_omemo(self, reason: str) -> None:
        """The room does not allow OMEMO (`reason` in plain words)."""
        self._show(
            f"⊘ No OMEMO in this room: {neutral(reason, single_line=True)}. Messages can "
            "only go unencrypted, and you will be asked first",
            "-no-omemo",
        )

    def clear(self) -> None:
        """Nothing to warn about."""
        self.update("")
        self.set_class(True, "-hidden")

    def _show(self, words: str, state: str) -> None:
        self.update(Text(words))
        self.set_class(False, "-hidden")
        self.set_class(state == "-undecided", "-undecided")
        self.set_class(state == "-no-omemo", "-no-omemo")

    def on_click(self) -> None:
        self.post_message(self.ReviewRequested())
