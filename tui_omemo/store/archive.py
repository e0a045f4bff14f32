"""The message archive: idempotent append, newest-first paging, full-text search.

Appending is idempotent on the message's de-duplication keys (stanza-id, origin-id, sender
device + counter …, chosen by the service): if any key is known, the existing id comes back
and nothing changes.

Order is arrival order, not time: a conversation shows its messages in the order this client
sent or first received them (`seq`, the new row's id), since times from other clocks (or of a
coarser resolution) would put a reply before the message it answers. Only a message fetched
by catch-up (`NewMessage.stamped`: a server or delay stamp) is placed by its stamp, after the
newest message not later than it (ties, at the stamp's resolution, go by arrival). Paging and
search order by (seq, id), so a cursor never skips or repeats a message. Search runs over an
external-content FTS5 index kept in sync by triggers; the user's words are always quoted, so
FTS5 syntax in a search box (``"``, ``AND(``, ``NEAR``, ``*``) cannot raise.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from tui_omemo.model import TrustLevel
from tui_omemo.protocol.media_link import search_text
from tui_omemo.store.records import (
    ArchivedMessage,
    Direction,
    NewMessage,
    Page,
    PageCursor,
    SearchHit,
    SnippetPart,
)
from tui_omemo.store.sql import Connection, Row

_COLUMNS = (
    "id, peer, direction, sender_bare_jid, body, timestamp, received_at, room, nick, "
    "sender_device, trust, omemo_version, stanza_id, origin_id, message_id, flags, seq"
)
# seq NULL: the arrival position, which is the id the row gets (the largest id plus one).
_INSERT = (
    "INSERT INTO archive (peer, direction, sender_bare_jid, body, timestamp, received_at, "
    "room, nick, sender_device, trust, omemo_version, stanza_id, origin_id, message_id, flags, "
    "search_text, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "COALESCE(?, (SELECT COALESCE(MAX(id), 0) + 1 FROM archive)))"
)
CORRECTS_FLAG = "corrects"
"""The flag of a correction's row: the archive id of the message it corrected."""
_NOT_CORRECTION = f"AND json_extract(flags, '$.{CORRECTS_FLAG}') IS NULL "
_SECOND = 1000
"""A stamp without milliseconds stands for its whole second (XEP-0082 stamps often have no
fraction): a local time inside that second is a tie, settled by arrival."""
# Private-use characters mark matches inside snippets; they are split out again below.
_MARK_START = "\ue000"
_MARK_END = "\ue001"
_SNIPPET_TOKENS = 16


class DedupeKeys:
    """De-duplication keys → archive id (stanza-id, origin-id, device + counter …)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def seen(self, keys: Iterable[str]) -> int | None:
        """The archive id recorded under any of `keys`, or None when all are new."""
        for key in keys:
            row = self._connection.execute(
                "SELECT archive_id FROM dedupe WHERE key = ?", (key,)
            ).fetchone()
            if row is not None:
                return int(row[0])
        return None

    def add(self, keys: Iterable[str], archive_id: int) -> None:
        """Record more keys for an archived message (keys already present are kept)."""
        self._connection.executemany(
            "INSERT OR IGNORE INTO dedupe (key, archive_id) VALUES (?, ?)",
            [(key, archive_id) for key in keys],
        )


class Archive:
    """Repository over the ``archive`` table and its FTS5 index."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._dedupe = DedupeKeys(connection)

    def append(self, message: NewMessage) -> int:
        """Archive a message once.

        Args:
            message: the message; its `dedupe_keys` must not be empty.

        Returns:
            The new row's id, or the id already stored under one of its dedupe keys
            (in which case nothing is written).

        Raises:
            ValueError: the message has no dedupe key.
        """
        if not message.dedupe_keys:
            raise ValueError("a message needs at least one dedupe key")
        existing = self._dedupe.seen(message.dedupe_keys)
        if existing is not None:
            return existing
        seq = self._stamped_seq(message) if message.stamped else None
        cursor = self._connection.execute(_INSERT, (*_insert_params(message), seq))
        archive_id = cursor.lastrowid
        assert archive_id is not None
        self._dedupe.add(message.dedupe_keys, archive_id)
        return archive_id

    def _stamped_seq(self, message: NewMessage) -> int | None:
        """Where a catch-up message goes: right after the newest message of its conversation
        that is not later than its stamp (the same `seq`, a larger id), else before all of
        them; None (arrival position) in an empty conversation. Messages placed after the
        same message keep their arrival order among themselves (a catch-up delivers in
        stamp order)."""
        resolution = _SECOND if message.timestamp % _SECOND == 0 else 1
        row = self._connection.execute(
            "SELECT seq FROM archive WHERE peer = ? AND timestamp < ? "
            "ORDER BY seq DESC, id DESC LIMIT 1",
            (message.peer, message.timestamp + resolution),
        ).fetchone()
        if row is not None:
            return int(row[0])
        first = self._connection.execute(
            "SELECT MIN(seq) FROM archive WHERE peer = ?", (message.peer,)
        ).fetchone()
        return None if first is None or first[0] is None else int(first[0]) - 1

    def get(self, archive_id: int) -> ArchivedMessage | None:
        """One message by id."""
        row = self._connection.execute(
            f"SELECT {_COLUMNS} FROM archive WHERE id = ?",  # noqa: S608 (constant columns)
            (archive_id,),
        ).fetchone()
        return None if row is None else _message(row)

    def original(self, peer: str, message_id: str) -> ArchivedMessage | None:
        """The newest message of a conversation sent with `message_id` (its stanza `id` or
        origin-id): what a XEP-0308 correction replaces. A correction's own id (clients that
        name the previous version) gives the message it corrected."""
        row = self._connection.execute(
            f"SELECT {_COLUMNS} FROM archive "  # noqa: S608 (constant columns)
            "WHERE peer = ? AND (message_id = ? OR origin_id = ?) ORDER BY id DESC LIMIT 1",
            (peer, message_id, message_id),
        ).fetchone()
        if row is None:
            return None
        found = _message(row)
        corrected = found.flags.get(CORRECTS_FLAG)
        if isinstance(corrected, int) and corrected != found.id:
            earlier = self.get(corrected)
            return None if earlier is None or earlier.peer != peer else earlier
        return found

    def rewrite(self, archive_id: int, body: str, flags: dict[str, object]) -> None:
        """Replace a message's shown text and flags (a correction; the search index follows
        by trigger)."""
        self._connection.execute(
            "UPDATE archive SET body = ?, search_text = ?, flags = ? WHERE id = ?",
            (
                body,
                search_text(body),
                json.dumps(flags, sort_keys=True, separators=(",", ":")),
                archive_id,
            ),
        )

    def hide_from_search(self, archive_id: int) -> None:
        """Leave a message out of full-text search (an applied correction: its text is found
        in the message it corrected, which shows it; the trigger drops it from the index)."""
        self._connection.execute("UPDATE archive SET search_text = '' WHERE id = ?", (archive_id,))

    def learn_stanza_id(self, archive_id: int, stanza_id: str) -> bool:
        """Give a message the stanza-id it was stamped with when it has none yet (our own
        room message, archived before it left: the room stamps it on the reflection);
        whether it had none."""
        cursor = self._connection.execute(
            "UPDATE archive SET stanza_id = ? WHERE id = ? AND stanza_id IS NULL",
            (stanza_id, archive_id),
        )
        return cursor.rowcount == 1

    def count(self, peer: str | None = None) -> int:
        """How many messages are archived in one conversation (or in all)."""
        if peer is None:
            row = self._connection.execute("SELECT count(*) FROM archive").fetchone()
        else:
            row = self._connection.execute(
                "SELECT count(*) FROM archive WHERE peer = ?", (peer,)
            ).fetchone()
        assert row is not None
        return int(row[0])

    def page(self, peer: str, before: PageCursor | None = None, limit: int = 100) -> Page:
        """Newest-first messages of one conversation, strictly older than `before`.

        A correction (XEP-0308) is no message of its own here: its text is the one the
        corrected message shows.

        Args:
            peer: the conversation (contact or room bare JID).
            before: the cursor of the previous page, None for the newest messages.
            limit: at most this many messages (1 or more).

        Returns:
            The page; its `older` cursor is None when no older message exists.
        """
        limit = max(1, limit)
        if before is None:
            rows = self._connection.execute(
                f"SELECT {_COLUMNS} FROM archive WHERE peer = ? {_NOT_CORRECTION}"  # noqa: S608 (constant columns)
                "ORDER BY seq DESC, id DESC LIMIT ?",
                (peer, limit + 1),
            ).fetchall()
        else:
            rows = self._connection.execute(
                f"SELECT {_COLUMNS} FROM archive "  # noqa: S608 (constant columns)
                f"WHERE peer = ? AND (seq, id) < (?, ?) {_NOT_CORRECTION}"
                "ORDER BY seq DESC, id DESC LIMIT ?",
                (peer, before.seq, before.id, limit + 1),
            ).fetchall()
        messages = tuple(_message(row) for row in rows[:limit])
        older = None
        if len(rows) > limit:
            older = PageCursor(messages[-1].seq, messages[-1].id)
        return Page(messages, older)

    def search(
        self, text: str, peer: str | None = None, since: int | None = None, limit: int = 50
    ) -> list[SearchHit]:
        """Messages containing every word of `text`, newest first (in arrival order, as
        paging), with snippets.

        Words are matched as FTS5 phrases (quoted), with diacritics folded; a word ending in
        ``*`` matches as a prefix. Any text is safe: FTS5 operators are searched literally.

        Args:
            text: what the person typed.
            peer: only this conversation.
            since: only messages with timestamp >= this (ms since the epoch).
            limit: at most this many hits.

        Returns:
            The hits; empty when `text` has no searchable word.
        """
        query = fts_query(text)
        if query is None:
            return []
        sql, params = _search_sql(query, peer, since, limit)
        rows = self._connection.execute(sql, params).fetchall()
        return [SearchHit(_message(row[:-1]), _snippet_parts(row[-1])) for row in rows]

    def after(
        self, archive_id: int, peer: str | None = None, limit: int = 100
    ) -> list[ArchivedMessage]:
        """Messages archived after `archive_id`, in archive order (row id, oldest first).

        A row id only grows (the newest row has the highest), so a reader that remembers the
        last id it handled resumes without skipping or repeating a message, whatever the
        messages' own timestamps say (`listen`'s cursor, `history --after`).

        Args:
            archive_id: the last id already handled (0: from the start).
            peer: only this conversation.
            limit: at most this many messages (1 or more).
        """
        sql = f"SELECT {_COLUMNS} FROM archive WHERE id > ?"  # noqa: S608 (constant columns)
        params: list[object] = [archive_id]
        if peer is not None:
            sql += " AND peer = ?"
            params.append(peer)
        rows = self._connection.execute(
            sql + " ORDER BY id LIMIT ?", (*params, max(1, limit))
        ).fetchall()
        return [_message(row) for row in rows]

    def delete_conversation(self, peer: str) -> int:
        """Delete every message of one conversation, with its dedupe keys (the FTS index
        follows by trigger, an outbox row by its foreign key).

        The keys go first, in one pass over ``dedupe`` (it has no index by archive id: that
        index would cost a page write per archived message).

        Not used by the application: archive ids have no AUTOINCREMENT, so deleting the newest
        rows lets their ids be handed out again, which `listen` cursors cannot tell apart
        (tests/store/test_archive_ids.py). A history deletion needs monotonic ids first.

        Returns:
            How many messages were deleted.
        """
        self._connection.execute(
            "DELETE FROM dedupe WHERE archive_id IN (SELECT id FROM archive WHERE peer = ?)",
            (peer,),
        )
        return self._connection.execute("DELETE FROM archive WHERE peer = ?", (peer,)).rowcount


def fts_query(text: str) -> str | None:
    """An FTS5 query matching every whitespace-separated word of `text` literally.

    Each word becomes a quoted phrase (inner ``"`` doubled); a trailing ``*`` is kept outside
    the quotes as a prefix search; NUL characters separate words. Returns None when nothing
    searchable remains.
    """
    phrases = []
    for word in text.replace("\x00", " ").split():  # FTS5 would end the query at a NUL
        prefix = word.endswith("*") and len(word.rstrip("*")) > 0
        core = word.rstrip("*") if prefix else word
        phrases.append('"' + core.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(phrases) if phrases else None


def _search_sql(
    query: str, peer: str | None, since: int | None, limit: int
) -> tuple[str, list[object]]:
    """Pick the newest matches first, then build snippets for those rows only.

    Computing snippet() inside the sort would read and tokenise every matching body; the
    inner query orders ids using the small ``archive_search_order`` index, the outer one
    (CROSS JOIN fixes the join order: hits first) reads at most `limit` rows. Every page read
    costs a decryption in SQLCipher, so reading fewer pages is what keeps search fast.
    """
    filters = ""
    params: list[object] = [query]
    if peer is not None:
        filters += " AND a.peer = ?"
        params.append(peer)
    if since is not None:
        filters += " AND a.timestamp >= ?"
        params.append(since)
    params += [max(1, limit), query]
    columns = ", ".join(f"a.{name.strip()}" for name in _COLUMNS.split(","))
    snippet = f"snippet(archive_fts, 0, '{_MARK_START}', '{_MARK_END}', '…', {_SNIPPET_TOKENS})"
    sql = (
        "WITH hits AS (SELECT a.id AS id FROM archive_fts "  # noqa: S608 (constants only)
        "JOIN archive AS a INDEXED BY archive_search_order ON a.id = archive_fts.rowid "
        f"WHERE archive_fts MATCH ?{filters} "
        "ORDER BY a.seq DESC, a.id DESC LIMIT ?) "
        f"SELECT {columns}, {snippet} FROM hits "
        "CROSS JOIN archive_fts ON archive_fts.rowid = hits.id "
        "CROSS JOIN archive AS a ON a.id = hits.id "
        "WHERE archive_fts MATCH ? ORDER BY a.seq DESC, a.id DESC"
    )
    return sql, params


def _snippet_parts(snippet: str) -> tuple[SnippetPart, ...]:
    parts: list[SnippetPart] = []
    for index, chunk in enumerate(snippet.split(_MARK_START)):
        matched, _, rest = chunk.partition(_MARK_END) if index else ("", "", chunk)
        if matched:
            parts.append(SnippetPart(matched, match=True))
        if rest:
            parts.append(SnippetPart(rest, match=False))
    return tuple(parts)


def _insert_params(message: NewMessage) -> tuple[object, ...]:
    return (
        message.peer,
        message.direction.value,
        message.sender_bare_jid,
        message.body,
        message.timestamp,
        message.received_at,
        message.room,
        message.nick,
        message.sender_device,
        None if message.trust is None else message.trust.value,
        message.omemo_version,
        message.stanza_id,
        message.origin_id,
        message.message_id,
        json.dumps(dict(message.flags), sort_keys=True, separators=(",", ":")),
        search_text(message.body),
    )


def _message(row: Row) -> ArchivedMessage:
    return ArchivedMessage(
        id=row[0],
        peer=row[1],
        direction=Direction(row[2]),
        sender_bare_jid=row[3],
        body=row[4],
        timestamp=row[5],
        received_at=row[6],
        room=row[7],
        nick=row[8],
        sender_device=row[9],
        trust=None if row[10] is None else TrustLevel(row[10]),
        omemo_version=row[11],
        stanza_id=row[12],
        origin_id=row[13],
        message_id=row[14],
        flags=json.loads(row[15]),
        seq=row[16],
    )
