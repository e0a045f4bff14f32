"""`tui-omemo history JID`: print a conversation from the encrypted archive, oldest first."""

from __future__ import annotations

from dataclasses import dataclass

from tui_omemo.commands.account import check_jid
from tui_omemo.commands.console import Console, UsageError
from tui_omemo.commands.output import MessageView
from tui_omemo.commands.profile import ProfileOptions, open_database
from tui_omemo.store import ArchivedMessage

DEFAULT_LIMIT = 100


@dataclass(frozen=True, slots=True)
class HistoryArgs:
    """The arguments of `history`."""

    jid: str
    search: str | None
    limit: int
    json: bool


def history(options: ProfileOptions, args: HistoryArgs, console: Console) -> int:
    """Print the newest `limit` messages with `jid` (or those matching `--search`).

    Raises:
        UsageError: a bad JID or a limit below 1.
        CommandError, StoreError: the profile cannot be opened.
    """
    peer = check_jid(args.jid)
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    with open_database(options, console) as database, database.snapshot() as uow:
        if args.search is not None:
            found = uow.archive.search(args.search, peer=peer, limit=args.limit)
            messages: list[ArchivedMessage] = [hit.message for hit in found]
        else:
            messages = list(uow.archive.page(peer, limit=args.limit).messages)
    messages.sort(key=lambda message: (message.timestamp, message.id))
    for message in messages:
        view = MessageView.from_archive(message)
        console.out(view.to_json() if args.json else view.to_line())
    if not messages and not args.json:
        console.err(f"no messages with {peer}" + ("" if args.search is None else " match"))
    return 0
