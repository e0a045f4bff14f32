"""What `send` sends and to whom: recipients and text from the arguments, stdin or a file.

``send JID TEXT`` as always; ``send JID`` with stdin not a terminal reads the text from stdin
(``echo hi | tui-omemo send JID``: no argument-list size limit); ``send JID… -`` reads stdin
for several recipients; ``-m FILE`` reads the file and every positional is a recipient. With
several positionals the last one is the text, unless it is ``-``: when stdin is not a terminal
and the last one is itself a JID the command line is ambiguous (``echo hi | send a@x b@x``
would otherwise send "b@x" to a@x), so it is refused. One line break at the end of text read
from stdin or a file is dropped (``echo`` adds it); a message that is empty or only white
space is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tui_omemo.commands.console import Console, UsageError
from tui_omemo.commands.jids import check_jid

STDIN = "-"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """The recipients (bare JIDs, each once, in order) and the text."""

    recipients: tuple[str, ...]
    text: str


def resolve(targets: tuple[str, ...], message_file: str | None, console: Console) -> Outgoing:
    """The recipients and text the positionals, `-m FILE` and stdin say.

    Raises:
        UsageError: no recipient, a bad JID, no text to be had, an ambiguous command line,
            an unreadable file, or an empty message.
    """
    if message_file is not None:
        return _checked(targets, _read_file(message_file))
    if len(targets) == 1:
        if _is_terminal(console):
            raise UsageError(
                "no TEXT: give it after the JID, or - to read standard input, or -m FILE"
            )
        return _checked(targets, _trimmed(console.stdin.read()))
    *recipients, last = targets
    if last == STDIN:
        return _checked(tuple(recipients), _trimmed(console.stdin.read()))
    if not _is_terminal(console) and _looks_like_jid(last):
        raise UsageError(
            f"is {last!r} a recipient or the text? End the recipients with - to "
            "read the text from standard input, or use -m FILE"
        )
    return _checked(tuple(recipients), last)


def _checked(recipients: tuple[str, ...], text: str) -> Outgoing:
    if not recipients:
        raise UsageError("name at least one recipient JID")
    if not text.strip():
        raise UsageError("the message is empty; nothing was sent")
    jids = tuple(dict.fromkeys(check_jid(jid) for jid in recipients))
    return Outgoing(jids, text)


def _read_file(name: str) -> str:
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read the message file {name} ({type(error).__name__})") from None
    return _trimmed(text)


def _trimmed(text: str) -> str:
    """`text` without the one line break `echo` (or an editor) puts at its end."""
    return text.removesuffix("\n").removesuffix("\r")


def _is_terminal(console: Console) -> bool:
    try:
        return console.stdin is not None and console.stdin.isatty()
    except ValueError:  # a closed stdin
        return False


def _looks_like_jid(text: str) -> bool:
    try:
        check_jid(text)
    except UsageError:
        return False
    return True
