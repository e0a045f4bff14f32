"""Where received files were saved (issue 18): one row per downloaded file message, keyed by
its archive id, with the saved path, size and SHA-256 of the plaintext written. Deleting the
message (or its conversation) deletes the row by its foreign key."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tui_omemo.store.sql import Connection


@dataclass(frozen=True, slots=True)
class SavedFileRecord:
    """A file message's download: `path` as saved, `size` in bytes, hex `sha256`, and when
    (`saved_at`, ms since the epoch)."""

    archive_id: int
    path: str
    size: int
    sha256: str
    saved_at: int


class SavedFiles:
    """Repository over ``saved_files``."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def record(self, saved: SavedFileRecord) -> None:
        """Remember a download (a later download of the same message replaces it)."""
        self._connection.execute(
            "INSERT OR REPLACE INTO saved_files (archive_id, path, size, sha256, saved_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (saved.archive_id, saved.path, saved.size, saved.sha256, saved.saved_at),
        )

    def get(self, archive_id: int) -> SavedFileRecord | None:
        """The download of message `archive_id`, None when it was never saved."""
        found = self.for_ids([archive_id])
        return found.get(archive_id)

    def for_ids(self, archive_ids: Iterable[int]) -> dict[int, SavedFileRecord]:
        """The downloads among messages `archive_ids`, by archive id."""
        ids = sorted(set(archive_ids))
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        rows = self._connection.execute(
            "SELECT archive_id, path, size, sha256, saved_at FROM saved_files "  # noqa: S608
            f"WHERE archive_id IN ({marks})",
            ids,
        ).fetchall()
        return {row[0]: SavedFileRecord(row[0], row[1], row[2], row[3], row[4]) for row in rows}
