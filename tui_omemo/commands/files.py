"""`tui-omemo send-file JID PATH` and `tui-omemo download JID MESSAGE_ID`: encrypted file
sharing on the command line (XEP-0454 over HTTP File Upload).

`send-file` logs in, refuses a file over the upload service's limit before anything leaves,
uploads it encrypted with a fresh key, and sends the `aesgcm://` link as an ordinary OMEMO
message (never in plaintext: the service refuses that for a link) to the contact or joined
room; it prints what `send` prints. `download` needs no XMPP login: it reads the file message
from the encrypted archive, fetches and decrypts it (the account's certificate pin applies to
the file server, `http_files`), checks the tag and saves it in `--dir` (default: the
platform's downloads directory) under a safe name that never overwrites, then prints the saved
path. While the app or `listen` holds the profile, both are served by it
(`commands.frontends`), with the same output and exit status; `send-file`'s PATH reaches it
absolute (`file_args.with_file_path`), and the running instance reads the file. Both show a
progress line on stderr when stderr is a terminal (`commands/progress_line.py`): served, that
is the caller's own stderr (its descriptor is handed over), so the line shows where the command
was typed, and an update that would wait for that terminal is dropped.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tui_omemo.commands import exits, frontends, schema
from tui_omemo.commands.chat import (
    QUEUED,
    _open,
    _print_skipped,
    _Sent,
    _to_room,
    parse_version,
    send_with_version,
    sent_json,
)
from tui_omemo.commands.console import CommandError, Console, UsageError
from tui_omemo.commands.file_sharing import downloads_directory
from tui_omemo.commands.jids import check_jid
from tui_omemo.commands.muc import groups_of
from tui_omemo.commands.profile import ProfileOptions, open_database
from tui_omemo.commands.progress_line import ProgressLine
from tui_omemo.commands.runtime import Online, online, read_account
from tui_omemo.commands.send_input import Outgoing
from tui_omemo.model import Namespace
from tui_omemo.protocol.media import MediaError, file_link
from tui_omemo.service.api import ChatMessage, SendFailed
from tui_omemo.service.api_files import SavedFile
from tui_omemo.service.certificate_pin import certificate_pin
from tui_omemo.service.file_messages import record_saved, stored_file_link
from tui_omemo.service.files import (
    FileShareError,
    describe_name,
    download_file,
    upload_file,
)
from tui_omemo.xmpp.errors import TransportError
from tui_omemo.xmpp.http_files import HttpFiles

DEFAULT_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class SendFileArgs:
    """The arguments of `send-file`."""

    jid: str
    path: str
    omemo: str = "auto"
    room: bool = False
    json: bool = False
    quiet: bool = False
    timeout: float = DEFAULT_TIMEOUT
    partial: bool = False
    """`--partial`: in a room, everyone with keys (as `muc send --partial`)."""


@dataclass(frozen=True, slots=True)
class DownloadArgs:
    """The arguments of `download`."""

    jid: str
    message_id: int
    directory: str | None = None
    json: bool = False
    timeout: float = DEFAULT_TIMEOUT


def send_file(options: ProfileOptions, args: SendFileArgs, console: Console) -> int:
    """Upload `args.path` encrypted and send its link to `args.jid`.

    Raises:
        UsageError: bad JID, version or timeout.
        CommandError: the file cannot be sent (missing, too large, no upload service,
            no trusted device), with its exit status.
    """
    check_jid(args.jid)
    version = parse_version(args.omemo)
    if args.timeout <= 0:
        raise UsageError("--timeout must be more than 0 seconds")
    path = Path(args.path).expanduser()
    try:
        outcome = frontends.run(asyncio.wait_for(_send(options, args, path, version, console),
                                                 args.timeout))  # fmt: skip
    except TimeoutError:
        raise CommandError(f"sending the file timed out after {args.timeout:g} s") from None
    except FileShareError as error:
        raise CommandError(str(error)) from None
    if outcome.error is not None:
        raise outcome.error
    if args.partial and outcome.report is not None:
        _print_skipped(outcome.report, console)  # who "everyone with keys" left out
    if not args.quiet and outcome.report is not None:
        if args.json:
            console.out(sent_json(args.jid, outcome.report, room=outcome.room))
        else:
            console.out(f"sent {path.name} to {args.jid}")
    return exits.OK


async def _send(
    options: ProfileOptions,
    args: SendFileArgs,
    path: Path,
    version: Namespace | None,
    console: Console,
) -> _Sent:
    outgoing = Outgoing((args.jid,), "")
    database, rooms = await asyncio.to_thread(_open, options, console, outgoing, args.room)
    is_room = bool(rooms)
    async with online(options, console, rooms=is_room, database=database) as running:
        if is_room:
            groups = groups_of(running)
            if groups is None or args.jid not in groups.joined_rooms():
                raise CommandError(f"not in the room {args.jid}: join it first; nothing was sent")
        transport = HttpFiles(
            running.client, allow_plaintext_loopback=running.account.allow_plaintext_loopback
        )
        progress = ProgressLine(console, "uploading", path.name)
        try:
            link = await upload_file(transport, path, progress)
        finally:
            progress.end()
        try:
            if is_room:
                report = await _to_room(
                    running, args.jid, link.text(), version, False, args.partial
                )
            else:
                report = await send_with_version(running, args.jid, link.text(), version)
        except SendFailed as failure:
            hint = " (send-file --partial)" if failure.partial_possible else ""
            error = CommandError(f"{failure}{hint}", exits.NO_DEVICE)
            return _Sent(args.jid, None, error, is_room)
        if report.queued:
            error = CommandError(f"not connected to the server; {QUEUED}", exits.QUEUED)
            return _Sent(args.jid, report, error, is_room)
        try:
            await running.service.confirm_sent(30.0)
        except TransportError:
            error = CommandError(f"the server did not confirm the message; {QUEUED}", exits.QUEUED)
            return _Sent(args.jid, report, error, is_room)
        return _Sent(args.jid, report, None, is_room)


def download(options: ProfileOptions, args: DownloadArgs, console: Console) -> int:
    """Save the file of message `args.message_id` in the chat with `args.jid`.

    Raises:
        UsageError: bad JID or timeout.
        CommandError: no such file message; the download or the tag check failed
            (nothing is kept then).
    """
    peer = check_jid(args.jid)
    if args.timeout <= 0:
        raise UsageError("--timeout must be more than 0 seconds")
    database = open_database(options, console)
    try:
        account = read_account(database)
        with database.snapshot() as uow:
            pin = certificate_pin(uow)
        link = stored_file_link(database, peer, args.message_id)
    finally:
        database.close()
    if link is None:
        raise CommandError(f"message {args.message_id} with {peer} is not a file message")
    directory = Path(args.directory).expanduser() if args.directory else downloads_directory()
    transport = HttpFiles(
        None, allow_plaintext_loopback=account.allow_plaintext_loopback, certificate_pin=pin
    )
    progress = ProgressLine(console, "downloading", describe_name(link))
    try:
        saved = frontends.run(
            asyncio.wait_for(download_file(transport, link, directory, progress), args.timeout)
        )
    except TimeoutError:
        raise CommandError(f"the download timed out after {args.timeout:g} s") from None
    except FileShareError as error:
        raise CommandError(str(error)) from None
    finally:
        progress.end()
    _remember(options, console, args.message_id, saved)
    console.out(_saved_json(peer, args.message_id, saved) if args.json else str(saved.path))
    return exits.OK


def _remember(options: ProfileOptions, console: Console, archive_id: int, saved: SavedFile) -> None:
    """Keep the saved path and digest with the message (`history --json` shows them)."""
    database = open_database(options, console)
    try:
        record_saved(database, archive_id, saved)
    finally:
        database.close()


def _saved_json(peer: str, message_id: int, saved: SavedFile) -> str:
    return schema.dump(
        "saved",
        {
            "id": message_id,
            "peer": peer,
            "path": str(saved.path),
            "size": saved.size,
            "sha256": saved.sha256,
        },
    )


async def file_digest(running: Online, message: ChatMessage) -> str:
    """What the echo contact answers to a file (the demo shows the round trip with it):
    `file NAME, SIZE bytes, SHA-256 HEX` once downloaded and verified (into a temporary
    directory, removed at once), or why it could not be."""
    link = file_link(message.body)
    if link is None:
        return message.body
    transport = HttpFiles(
        running.client, allow_plaintext_loopback=running.account.allow_plaintext_loopback
    )
    with tempfile.TemporaryDirectory(prefix="tui-omemo-echo-") as scratch:
        try:
            saved = await download_file(transport, link, Path(scratch))
        except (FileShareError, MediaError, TransportError) as error:
            return f"file {describe_name(link)} not received: {error}"
    return f"file {describe_name(link)}, {saved.size} bytes, SHA-256 {saved.sha256}"
