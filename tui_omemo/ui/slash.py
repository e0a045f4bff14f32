"""Slash commands typed in a chat's composer, with Profanity's words where they fit.

A line that starts with "/" is a command, never a message: `parse` names it and checks its
arguments (an unknown command or a wrong number of arguments is a `SlashError` whose text is
shown, and the line stays in the composer); "//" sends a message that starts with "/".
`complete` completes the command name on Tab. `ui.slash_run.run` carries a command out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tui_omemo.ui.text import neutral


@dataclass(frozen=True, slots=True)
class Spec:
    """One command: its arguments as shown, what it does, how many arguments it takes."""

    usage: str
    help: str
    least: int = 0
    most: int = 0


COMMANDS: dict[str, Spec] = {
    "help": Spec("/help", "the keys of this screen and these commands"),
    "devices": Spec("/devices", "this contact's devices in the trust manager"),
    "verify": Spec("/verify [DEVICE]", "compare a device's fingerprint, then verify it", 0, 1),
    "trust": Spec("/trust DEVICE", "trust a device blindly (unverified)", 1, 1),
    "distrust": Spec("/distrust DEVICE", "a device gets no more messages (asks first)", 1, 1),
    "add": Spec("/add JID", "add a contact and ask for their presence", 1, 1),
    "remove": Spec("/remove", "remove this contact and both presence subscriptions (asks)"),
    "nick": Spec("/nick NAME", "name this contact in your roster", 1, 16),
    "join": Spec("/join ROOM [NICK]", "join a group chat (NICK: your account's name)", 1, 2),
    "leave": Spec("/leave", "leave this group chat", 0, 0),
    "plaintext": Spec("/plaintext MESSAGE", "send one message unencrypted (asks first)", 1, 999),
    "invite": Spec("/invite JID", "invite a contact into this group chat", 1, 1),
    "file": Spec("/file PATH", "send a file, encrypted (Tab completes the path)", 1, 999),
    "status": Spec("/status SHOW [TEXT]", "online, away, dnd or xa, and a status message", 1, 99),
}
"""Every command by name."""


class SlashError(ValueError):
    """A line that is not a command that can run; the text says why, in one line."""


@dataclass(frozen=True, slots=True)
class SlashCommand:
    """A parsed command line."""

    name: str
    args: tuple[str, ...] = ()
    rest: str = field(default="", compare=False)
    """Everything after the name as typed (a message keeps its spacing)."""


def is_command(text: str) -> bool:
    """Whether `text` is a command line (not a message; "//…" is a message)."""
    return text.startswith("/") and not text.startswith("//")


def parse(text: str) -> SlashCommand:
    """The command in `text` (a command line), its arguments checked.

    Raises:
        SlashError: unknown command, or too few or too many arguments.
    """
    words = text[1:].split()
    if not words or text[1:2].isspace():
        raise SlashError("A command follows the / at once (/help lists them); // sends a /.")
    name, *args = words
    spec = COMMANDS.get(name.lower())
    if spec is None:
        shown = neutral(text.split(maxsplit=1)[0], single_line=True)
        raise SlashError(f"Unknown command {shown}: /help lists the commands.")
    if not spec.least <= len(args) <= spec.most:
        raise SlashError(f"Usage: {spec.usage} — {spec.help}.")
    rest = text[1:].split(maxsplit=1)[1] if args else ""
    return SlashCommand(name.lower(), tuple(args), rest)


def complete(text: str) -> str:
    """`text` with its command name completed as far as it is unambiguous (a space after a
    complete name); unchanged when nothing matches or it is not a command name."""
    if not is_command(text) or " " in text:
        return text
    matches = [name for name in COMMANDS if name.startswith(text[1:].lower())]
    if len(matches) == 1:
        return f"/{matches[0]} "
    if not matches:
        return text
    shared = matches[0]
    while not all(name.startswith(shared) for name in matches):
        shared = shared[:-1]
    return f"/{shared}"


def listing() -> list[tuple[str, str]]:
    """(usage, what it does) of every command, for the help screen."""
    return [(spec.usage, spec.help) for spec in COMMANDS.values()]
