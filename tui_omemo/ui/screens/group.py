"""`GroupChatScreen`: a room — the chat log with nicks, the occupant list and OMEMO readiness.

It is a `ChatScreen` with a side column (occupants) and a readiness panel above the log
(Ctrl+R shows or hides it). Room subjects and nicks are peer text. Messages go out through
`send_to_room`; when members have no usable keys the service sends nothing. If others have keys
(`SendFailed.partial_possible`), `PartialSendDialog` offers to send to everyone with keys
(remembered for the room); if nobody has, skipping cannot help and one line above the composer
says so instead. A reply or a correction refused for the same reason gets the same choice, and
goes out as that reply or correction once the user accepts (`_Resend`), and so does a file
(`/file PATH`, Ctrl+G: `offer_partial_file`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui_omemo.service.api import ChatSecurity, RoomInfo, SendFailed, SendReport, SkippedDevice
from tui_omemo.ui import file_actions
from tui_omemo.ui.commands import PaletteAction
from tui_omemo.ui.dialogs.confirm import ConfirmDialog
from tui_omemo.ui.dialogs.partial_send import PartialSendDialog
from tui_omemo.ui.screens.chat import ChatScreen
from tui_omemo.ui.screens.roster import RosterScreen
from tui_omemo.ui.text import neutral, peer_text
from tui_omemo.ui.widgets.banner import SecurityBanner
from tui_omemo.ui.widgets.composer import Composer
from tui_omemo.ui.widgets.key_footer import KeyFooter
from tui_omemo.ui.widgets.message_log import MessageLog
from tui_omemo.ui.widgets.readiness_panel import ReadinessPanel
from tui_omemo.ui.widgets.typing_line import TypingLine

if TYPE_CHECKING:
    from tui_omemo.ui.app import TuiOmemoApp

NOBODY_HAS_KEYS = "Not sent: nobody here has OMEMO keys; skipping members cannot help."
"""The one line shown when a room send failed and no member could receive it."""


@dataclass(frozen=True, slots=True)
class _Resend:
    """A room send the service refused for members without keys, and how to send it again
    to everyone with keys: `again` sends it (`allow_partial`), `done` shows it sent, `failed`
    says why not."""

    again: Callable[[], Awaitable[SendReport]]
    done: Callable[[SendReport], None]
    failed: Callable[[Exception], None]


class GroupChatScreen(ChatScreen):
    """A multi-user chat."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "toggle_readiness", "Readiness"),
        Binding("f8", "leave_room", "Leave", key_display="F8"),
    ]
    PALETTE: ClassVar[tuple[PaletteAction, ...]] = (
        PaletteAction(
            "Show or hide readiness", "Members' OMEMO keys and trust counts", "toggle_readiness"
        ),
        PaletteAction("Leave room", "Leave this room and drop its bookmark (asks)", "leave_room"),
    )
    """The group screen's own entry of the command palette."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="chat-header", classes="title"):
            yield Static(self._title(), id="chat-title")
            yield Static(id="badge", markup=False)
        yield TypingLine(id="typing")
        yield Static(id="subject", markup=False)
        with Horizontal(id="room-body"):
            with Vertical(id="room-main"):
                yield ReadinessPanel(id="readiness")
                yield SecurityBanner(id="banner")
                yield MessageLog(self._clock, group=True, id="log")
                yield Static(id="send-problem", classes="-hidden", markup=False)
                yield Static(id="transfer", markup=False, classes="-hidden")
                yield Composer(id="composer", last_own=self._last_own_text)
            yield OptionList(id="occupants")
        yield KeyFooter()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#occupants", OptionList).border_title = "Occupants"
        self.query_one(ReadinessPanel).border_title = "OMEMO readiness"
        self._load_room()

    @work(exit_on_error=False, group="room", exclusive=True, description="room readiness")
    async def _load_room(self) -> None:
        try:
            room = await self._service.room_info(self.peer)
        except KeyError:
            self.notify("This room is not joined.", severity="error")
            return
        self.show_room(room)

    def show_room(self, room: RoomInfo) -> None:
        """Subject, occupants, readiness, and the OMEMO gate."""
        self.query_one("#subject", Static).update(peer_text(room.subject, single_line=True))
        occupants = self.query_one("#occupants", OptionList)
        you = peer_text(room.nick, single_line=True).append("  (you)", "dim")
        occupants.set_options(
            [
                Option(you),
                *(Option(self._occupant(m.nick or m.bare_jid, m.has_keys)) for m in room.members),
            ]
        )
        self.query_one(ReadinessPanel).set_members(room.members)
        banner = self.query_one(SecurityBanner)
        if not room.omemo_allowed:
            reason = neutral(room.omemo_refusal or "the room does not allow it", single_line=True)
            banner.show_room_without_omemo(reason)

    def _needs_plaintext_choice(self) -> bool:
        """Only a room that refuses OMEMO asks before sending unencrypted: a room whose
        version is automatic encrypts, and one with nobody else in it says so when sending."""
        return self._chat.security is ChatSecurity.NO_OMEMO

    @staticmethod
    def _occupant(nick: str, has_keys: bool) -> Text:
        row = peer_text(nick, single_line=True)
        row.append("" if has_keys else "  (no keys)", "dim")
        return row

    # --- sending --------------------------------------------------------------------------

    async def _deliver(self, text: str, *, allow_plaintext: bool) -> SendReport:
        return await self._service.send_to_room(self.peer, text, allow_plaintext=allow_plaintext)

    def _send_failed(self, text: str, error: Exception) -> None:
        resend = _Resend(
            lambda: self._service.send_to_room(self.peer, text, allow_partial=True),
            partial(self._sent, text),
            partial(super()._send_failed, text),
        )
        self._refused(error, resend)

    def _reply_failed(self, text: str, archive_id: int, error: Exception) -> None:
        resend = _Resend(
            lambda: self._service.reply(self.peer, archive_id, text, allow_partial=True),
            partial(self._replied, text),
            partial(super()._reply_failed, text, archive_id),
        )
        self._refused(error, resend)

    def _correct_failed(self, text: str, error: Exception) -> None:
        resend = _Resend(
            lambda: self._service.correct_last(self.peer, text, allow_partial=True),
            partial(self._corrected, text),
            partial(super()._correct_failed, text),
        )
        self._refused(error, resend)

    def offer_partial_file(self, typed: str, error: SendFailed) -> None:
        """A file the room refused for members without keys: the same choice as a message;
        accepted, it is uploaded and sent again to everyone with keys."""
        app = cast("TuiOmemoApp", self.app)

        async def again() -> SendReport:
            await file_actions.send_file(app, self.peer, typed, allow_partial=True)
            return SendReport(None, None)

        resend = _Resend(again, lambda _report: self._show_send_problem(None), self._file_failed)
        self._refused(error, resend)

    def _file_failed(self, error: Exception) -> None:
        self.notify(str(error), severity="error", markup=False)

    def _refused(self, error: Exception, resend: _Resend) -> None:
        """Members without usable keys stopped the send: offer to skip them when others have
        keys; when nobody has, say in one line that skipping cannot help; else say why."""
        members = _skipped_members(error)
        if not members:
            resend.failed(error)
        elif isinstance(error, SendFailed) and error.partial_possible:
            self.app.push_screen(
                PartialSendDialog(self.peer, members),
                lambda chosen: self._partial_answer(resend, chosen),
            )
        else:
            self._show_send_problem(NOBODY_HAS_KEYS)

    def _show_send_problem(self, words: str | None) -> None:
        """The line above the composer: why the last message could not go out (None hides it)."""
        line = self.query_one("#send-problem", Static)
        line.update(words or "")
        line.set_class(words is None, "-hidden")

    def _sent(self, text: str, report: SendReport) -> None:
        self._show_send_problem(None)
        super()._sent(text, report)

    def _partial_answer(self, resend: _Resend, chosen: bool | None) -> None:
        if chosen:
            self._send_partial(resend)

    @work(exit_on_error=False, group="send", description="send to everyone with keys")
    async def _send_partial(self, resend: _Resend) -> None:
        """The user chose "everyone with keys": remember it for the room and send again."""
        try:
            await self._service.set_partial_choice(self.peer, True)
            report = await resend.again()
        except Exception as error:  # the service's reason is meant for the user
            resend.failed(error)
            return
        resend.done(report)
        self._load_room()

    def action_leave_room(self) -> None:
        """Leave the room after a confirmation (its history stays); back to the roster."""
        name = neutral(self._chat.name or self.peer, single_line=True)
        dialog = ConfirmDialog(
            f"Leave {name}?",
            "You stop receiving its messages and it is no longer rejoined on connect. "
            "Its history stays; /join brings you back.",
            "Leave",
        )
        self.app.push_screen(dialog, self._leave_answer)

    def _leave_answer(self, yes: bool | None) -> None:
        if yes:
            self._leave()

    @work(exit_on_error=False, group="room", description="leave room")
    async def _leave(self) -> None:
        try:
            await self._service.leave_room(self.peer)
        except Exception as error:  # the service's reason is meant for the user
            self.notify(str(error), title="Leave failed", severity="error", markup=False)
            return
        self.notify(f"Left {neutral(self.peer, single_line=True)}.", markup=False)
        for screen in self.app.screen_stack:
            if isinstance(screen, RosterScreen):
                screen.reload()
        if self.is_current:
            self.app.pop_screen()

    def action_toggle_readiness(self) -> None:
        """Show or hide the readiness panel."""
        panel = self.query_one(ReadinessPanel)
        panel.set_class(not panel.has_class("-hidden"), "-hidden")

    def action_focus_composer(self) -> None:
        """Move to the composer."""
        self.query_one(Composer).focus()

    def action_focus_log(self) -> None:
        """Move to the message log."""
        self.query_one(MessageLog).focus()


def _skipped_members(error: Exception) -> tuple[SkippedDevice, ...]:
    """The members (not single devices) a failed room send skipped: those without any usable
    device, the only reason "everyone with keys" can help with."""
    if not isinstance(error, SendFailed):
        return ()
    return tuple(skipped for skipped in error.report.skipped if skipped.device_id is None)
