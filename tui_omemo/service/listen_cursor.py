"""`listen`'s cursor: the archive id of the last message a consumer has actually been given.

A cursor lives in the profile's settings table under ``listen/cursor/<name>`` (one per
profile, one per `--name` when several consumers read the same profile). It holds an archive
row id: ids only grow, in the order messages were archived, so "every row after the cursor"
is exactly what a consumer has not seen, whatever timestamps the messages carry. (They only
grow because no archive row is ever deleted: the table has no AUTOINCREMENT, see
tests/store/test_archive_ids.py.)

The rule that makes `listen` lose nothing: a consumer moves its cursor only *after* a
message was written and flushed (`advance`). A crash between reading a message and writing
it leaves the cursor behind it, so the next start prints it again; the price is that a crash
between the write and `advance` prints that one message twice (at least once, never lost).

Rows this device wrote itself (messages sent from this profile) are not news to it: a
consumer steps over them (`is_own`) and moves its cursor past them with the next write.

The reads and writes run on the running service's DB thread (`OmemoChatService.runner`), like
every other access to the profile while the service is up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui_omemo.store import ArchivedMessage, Direction, UnitOfWork

if TYPE_CHECKING:
    from tui_omemo.service.app_service import OmemoChatService

PREFIX = "listen/cursor/"
DEFAULT_NAME = "default"
BATCH = 200
"""At most this many rows are read from the archive at a time."""


def key(name: str) -> str:
    """The settings key of the cursor called `name`."""
    return PREFIX + name


def name_for(name: str | None, peer: str | None) -> str:
    """The cursor a `listen` run uses: `--name`, else one per `--from` filter (a filtered
    consumer must not move the unfiltered one past messages it never printed), else the
    default."""
    if name is not None:
        return name
    return DEFAULT_NAME if peer is None else f"from:{peer}"


async def position(service: OmemoChatService, name: str) -> int:
    """The archive id of the last message given to `name` (0: nothing yet)."""
    return await service.runner.read(lambda uow: _position(uow, name))


async def advance(service: OmemoChatService, name: str, archive_id: int) -> None:
    """Record that everything up to `archive_id` has been given to `name`."""
    await service.runner.write(lambda uow: uow.settings.set(key(name), archive_id))


def _position(uow: UnitOfWork, name: str) -> int:
    value = uow.settings.get(key(name))
    return value if isinstance(value, int) and value >= 0 else 0


@dataclass(frozen=True, slots=True)
class Reader:
    """What one consumer reads: archive rows after its position, optionally one chat's."""

    peer: str | None
    own_device: int | None

    async def pending(self, service: OmemoChatService, after: int) -> list[ArchivedMessage]:
        """The next rows after `after`, oldest first (at most `BATCH`)."""
        return await service.runner.read(
            lambda uow: uow.archive.after(after, peer=self.peer, limit=BATCH)
        )

    def is_own(self, message: ArchivedMessage) -> bool:
        """A row this device wrote when it sent a message (not news to its own consumer);
        a message sent from our other devices (a carbon) is news and is shown."""
        if message.direction is not Direction.OUT:
            return False
        if message.sender_device is None:
            return "plaintext_chosen" in message.flags
        return message.sender_device == self.own_device
