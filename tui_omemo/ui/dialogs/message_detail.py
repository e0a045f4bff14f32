"""`MessageDetailDialog`: what is known about one message, and the fixes for a failure.

Shows the trust mark in words, the sender device and its fingerprint (when known), the OMEMO
version (both, when a message of ours went to devices of each version and the chat screen
still holds that send's report), the earlier texts of a corrected message (XEP-0308), and for
a failed decryption the reason in plain words with two fixes: fetch the sender's device list
again, or rebuild the session with that device. `r` answers the message (XEP-0461), as `r` in
the chat log does.
"""

from __future__ import annotations

import enum
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui_omemo.model import Namespace
from tui_omemo.service.api import ChatMessage, Delivery, DeviceInfo, MessageTrust
from tui_omemo.service.api_files import SavedFile
from tui_omemo.ui.clock import Clock
from tui_omemo.ui.text import neutral
from tui_omemo.ui.widgets.device_table import TRUST_WORDS
from tui_omemo.ui.widgets.fingerprint import groups
from tui_omemo.ui.widgets.message_log import TRUST_MARKS

MEANINGS: dict[MessageTrust, str] = {
    MessageTrust.VERIFIED: "encrypted by a device you verified",
    MessageTrust.BLIND: "encrypted by a device trusted blindly (not verified)",
    MessageTrust.UNTRUSTED: "encrypted by a device you have not trusted: it may not be theirs",
    MessageTrust.UNENCRYPTED: "sent without encryption: the server could read it",
    MessageTrust.FAILED: "could not be decrypted",
}


DELIVERY_WORDS = {
    Delivery.PENDING: "waiting to be sent (the server does not have it yet)",
    Delivery.SENT: "the server has it",
    Delivery.RECEIVED: "a device of the contact has it",
    Delivery.READ: "read: the contact had the chat on screen",
}


def omemo_words(omemo: Namespace | None, versions: tuple[Namespace, ...]) -> str:
    """The OMEMO row: "version 2", "versions 2 and 0.3" for a send that used both, or "none"."""
    if len(versions) > 1:
        return "versions " + " and ".join(namespace.label for namespace in versions)
    return f"version {omemo.label}" if omemo is not None else "none"


def edit_history(texts: tuple[str, ...]) -> Text:
    """The earlier texts of a corrected message, oldest first (peer text: never markup)."""
    lines = Text("Edited; earlier versions:\n", "bold")
    for number, text in enumerate(texts[:-1], 1):
        lines.append(f"{number:>3}. ")
        lines.append(neutral(text, single_line=True) + "\n")
    lines.rstrip()
    return lines


class DetailChoice(enum.StrEnum):
    """What the user chose in the dialog."""

    REFRESH_DEVICES = "refresh_devices"
    REBUILD_SESSION = "rebuild_session"
    REPLY = "reply"


class MessageDetailDialog(ModalScreen[DetailChoice | None]):
    """Details of one message."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("r", "reply", "Reply", show=False),
    ]

    def __init__(
        self,
        message: ChatMessage,
        device: DeviceInfo | None,
        clock: Clock,
        *,
        versions: tuple[Namespace, ...] = (),
        saved: SavedFile | None = None,
        texts: tuple[str, ...] = (),
    ) -> None:
        """`versions`: every OMEMO version the send used (`SendReport.versions`), if known;
        `saved`: where the message's file was downloaded to, if it was; `texts`: every text
        of a corrected message, oldest first (XEP-0308)."""
        super().__init__()
        self._saved = saved
        self._message = message
        self._device = device
        self._clock = clock
        self._versions = versions
        self._texts = texts

    def compose(self) -> ComposeResult:
        message = self._message
        with Vertical(classes="dialog"):
            yield Static("Message details", classes="dialog-title")
            yield Static(self._facts(), id="facts")
            if len(self._texts) > 1:
                yield Static(edit_history(self._texts), id="versions")
            if message.trust is MessageTrust.FAILED:
                reason = neutral(message.failure or "The reason was not recorded.")
                yield Static(Text(f"Why: {reason}"), id="failure")
                yield Static(
                    "Fix: fetch the sender's device list again, or build a fresh "
                    "session with this device (it will send an empty message).",
                    classes="hint",
                )
            with Horizontal(classes="buttons"):
                if message.trust is MessageTrust.FAILED:
                    yield Button("Refresh device list", id="refresh")
                    yield Button("Rebuild session", id="rebuild", variant="warning")
                yield Button("Close", id="close", variant="primary")

    def _facts(self) -> Text:
        message, device = self._message, self._message.sender_device_id
        facts = Text()
        who = message.nick or message.sender
        rows = [
            ("Time", self._clock.full(message.time)),
            ("From", neutral(who, single_line=True) + (" (you)" if message.outgoing else "")),
            ("Trust", f"{TRUST_MARKS[message.trust]} {MEANINGS[message.trust]}"),
            ("OMEMO", omemo_words(message.omemo, self._versions)),
            ("Device", str(device) if device is not None else "unknown"),
        ]
        if message.outgoing and message.nick is None:  # issue 17: how far it got (1:1)
            rows.append(("Delivery", DELIVERY_WORDS[message.delivery]))
        if self._device is not None:
            parts = groups(self._device.fingerprint)
            rows.append(("Fingerprint", " ".join(parts[:4])))
            rows.append(("", " ".join(parts[4:])))
            rows.append(("Device trust", TRUST_WORDS[self._device.trust]))
        rows.extend(self._file_rows())
        for label, value in rows:
            facts.append(f"{label:>13}  ", "bold")
            facts.append(f"{value}\n")
        facts.rstrip()
        return facts

    def _file_rows(self) -> list[tuple[str, str]]:
        """File, size, saved path and SHA-256 (in two halves) of a file message."""
        file, saved = self._message.file, self._saved
        if file is None:
            return []
        rows = [("File", f"{neutral(file.name, single_line=True)} ({file.type})")]
        if saved is None:
            return [*rows, ("Saved", "not downloaded")]
        return [
            *rows,
            ("Size", f"{saved.size} bytes"),
            ("Saved to", neutral(str(saved.path), single_line=True)),
            ("SHA-256", saved.sha256[:32]),
            ("", saved.sha256[32:]),
        ]

    def action_reply(self) -> None:
        """Answer the message in the composer (not a failed decryption: nothing to quote)."""
        if self._message.trust is not MessageTrust.FAILED:
            self.dismiss(DetailChoice.REPLY)

    @on(Button.Pressed, "#refresh")
    def _refresh(self) -> None:
        self.dismiss(DetailChoice.REFRESH_DEVICES)

    @on(Button.Pressed, "#rebuild")
    def _rebuild(self) -> None:
        self.dismiss(DetailChoice.REBUILD_SESSION)

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss(None)
