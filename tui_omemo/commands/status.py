"""`tui-omemo status [online|away|dnd|xa] [TEXT]`: our availability and status message.

They are two settings (`show`, `status_message`, see `service.social`). Without arguments the
command prints them (`away: back soon`, or just `online`); with a show word (and text) it
changes them and prints the new status. While the app or `listen` holds the profile the command
is served by it (`commands.frontends`), which tells the contacts at once; alone nothing is
online, so the value is stored and announced at the next login.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui_omemo.commands import frontends
from tui_omemo.commands.console import Console, UsageError
from tui_omemo.commands.profile import ProfileOptions, open_database
from tui_omemo.config import Settings, parse_status
from tui_omemo.service.offline import change_setting, stored_settings
from tui_omemo.service.profiles import Database


@dataclass(frozen=True, slots=True)
class StatusArgs:
    """The arguments of `status`: the show word (None: print) and the message words."""

    show: str | None
    text: tuple[str, ...] = ()


def status(options: ProfileOptions, args: StatusArgs, console: Console) -> int:
    """Print, or change and print, our show and status message.

    Raises:
        UsageError: an unknown show word, or a message that is not one short line.
        CommandError, StoreError: the profile cannot be opened.
    """
    if args.show is None:
        with open_database(options, console) as database:
            current = _read(database)
    else:
        try:
            show, text = parse_status(args.show, " ".join(args.text))
        except ValueError as error:
            raise UsageError(str(error)) from None
        current = _changed(options, console, show, text)
    console.out(status_line(current))
    return 0


def status_line(settings: Settings) -> str:
    """`away: back soon`, or the show word alone when there is no message."""
    if settings.status_message:
        return f"{settings.show}: {settings.status_message}"
    return settings.show


def _changed(options: ProfileOptions, console: Console, show: str, text: str) -> Settings:
    if frontends.update_setting("show", show) is not None:  # served: announced at once
        updated = frontends.update_setting("status_message", text)
        assert updated is not None
        return updated
    with open_database(options, console) as database:
        try:
            change_setting(database, "show", show)
            return change_setting(database, "status_message", text)
        except ValueError as error:  # unreadable stored settings
            raise UsageError(str(error)) from None


def _read(database: Database) -> Settings:
    try:
        return stored_settings(database)
    except ValueError as error:  # unreadable stored settings
        raise UsageError(str(error)) from None
