"""`tui-omemo settings [KEY [VALUE]]`: show or change the OMEMO options (DESIGN.md §4).

Works without the server: the settings live in the profile, under the key the service reads
them from. Without KEY every option is listed with its value and explanation; with KEY its
value; with KEY VALUE it is changed (true/false, on/off, numbers, btbv/manual) and the new
value is printed. `--json` prints one `setting` object per option (`commands.schema`).
Protocol options take effect the next time the profile is opened.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from tui_omemo.commands import frontends, schema
from tui_omemo.commands.console import Console, UsageError
from tui_omemo.commands.profile import ProfileOptions, open_database
from tui_omemo.config import SETTINGS_HELP, Settings
from tui_omemo.service.offline import change_setting, stored_settings


@dataclass(frozen=True, slots=True)
class SettingsArgs:
    """The arguments of `settings`."""

    key: str | None
    value: str | None
    json: bool = False


def settings(options: ProfileOptions, args: SettingsArgs, console: Console) -> int:
    """List, show or change settings.

    Raises:
        UsageError: unknown key, or a value that does not parse or is out of range.
    """
    with open_database(options, console) as database:
        try:
            if args.key is not None and args.value is not None:
                # served by the running instance: through its service (issue 17)
                updated = frontends.update_setting(args.key, args.value) or change_setting(
                    database, args.key, args.value
                )
            else:
                updated = stored_settings(database)
        except ValueError as error:  # an unknown key, a bad value, unreadable stored settings
            raise UsageError(str(error)) from None
    values = updated.to_json()
    if args.key is not None and args.key not in SETTINGS_HELP:
        raise UsageError(f"unknown setting {args.key!r}; known: {', '.join(SETTINGS_HELP)}")
    names = [spec.name for spec in fields(Settings)] if args.key is None else [args.key]
    for name in names:
        if args.json:
            console.out(setting_json(name, values[name]))
        elif args.key is None:
            console.out(f"{name} = {_text(values[name])}  # {SETTINGS_HELP[name]}")
        else:
            console.out(f"{name} = {_text(values[name])}")
    return 0


def setting_json(name: str, value: object) -> str:
    """A `setting` object of JSON schema 1 (the value as stored: true/false, a number, a
    word)."""
    return schema.dump("setting", {"key": name, "value": value, "help": SETTINGS_HELP[name]})


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)
