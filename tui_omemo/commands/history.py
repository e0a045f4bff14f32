"""`tui-omemo history JID`: print a conversation from the encrypted archive, oldest first, in
the order this client sent or received each message (the archive's order, never re-sorted by
the messages' own times: a reply stamped by the server's second would go first).

`history --after ID [JID]` prints what was archived after archive id ID instead — across all
chats, or JID's only — in archive order: a script that remembers the last `id` it saw
resumes from there without missing or repeating a message (the ids `listen --json` prints).
"""

from __future__ import annotations

from dataclasses import dataclass

from tui_omemo.commands.console import Console, UsageError
from tui_omemo.commands.file_view import Saved
from tui_omemo.commands.jids import check_jid
from tui_omemo.commands.output import MessageView, failure_json
from tui_omemo.commands.profile import ProfileOptions, open_database

DEFAULT_LIMIT = 100


@dataclass(frozen=True, slots=True)
class HistoryArgs:
    """The arguments of `history`."""

    jid: str | None
    search: str | None
    limit: int
    json: bool
    after: int | None = None


def history(options: ProfileOptions, args: HistoryArgs, console: Console) -> int:
    """Print the newest `limit` messages with `jid` (or those matching `--search`).

    Raises:
        UsageError: a bad JID or a limit below 1.
        CommandError, StoreError: the profile cannot be opened.
    """
    peer = _check(args)
    with open_database(options, console) as database, database.snapshot() as uow:
        if args.after is not None:
            messages = uow.archive.after(args.after, peer=peer, limit=args.limit)
        elif args.search is not None:
            found = uow.archive.search(args.search, peer=peer, limit=args.limit)
            messages = [hit.message for hit in reversed(found)]  # oldest first
        else:
            assert peer is not None
            messages = list(reversed(uow.archive.page(peer, limit=args.limit).messages))
        saved = {
            archive_id: Saved(record.path, record.size, record.sha256)
            for archive_id, record in uow.saved_files.for_ids(m.id for m in messages).items()
        }
    for message in messages:
        failure = message.flags.get("failure")
        if args.json and isinstance(failure, str):
            console.out(failure_json(message, failure))
            continue
        view = MessageView.from_archive(message, saved.get(message.id))
        console.out(view.to_json() if args.json else view.to_line())
    if not messages and not args.json:
        console.err(_nothing(peer, args))
    return 0


def _check(args: HistoryArgs) -> str | None:
    """The chat asked for (None: all, with --after).

    Raises:
        UsageError: no JID without --after, a bad JID, --limit below 1, --after below 0,
            --after with --search.
    """
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    if args.after is not None:
        if args.after < 0:
            raise UsageError("--after must be an archive id (0 or more)")
        if args.search is not None:
            raise UsageError("--after and --search cannot be combined")
    elif args.jid is None:
        raise UsageError("name a JID (or use --after ID for every chat)")
    return None if args.jid is None else check_jid(args.jid)


def _nothing(peer: str | None, args: HistoryArgs) -> str:
    if args.after is not None:
        where = "" if peer is None else f" with {peer}"
        return f"no messages{where} after {args.after}"
    return f"no messages with {peer}" + ("" if args.search is None else " match")
