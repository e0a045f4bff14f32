"""The database schema, as numbered steps under ``PRAGMA user_version``.

Step *n* moves a database from version *n − 1* to *n*. Each step runs in its own
transaction together with the ``user_version`` bump, so a crash leaves the database at a
whole step. Steps are frozen once released: change the schema by appending a step.

Conventions of the schema:

- Times are INTEGER milliseconds since the Unix epoch, UTC (``*_at``, ``timestamp``,
  ``*_seen``): they sort and compare as numbers and cost 8 bytes.
- JSON is stored as TEXT, checked with ``json_valid``.
- In ``archive``, ``peer`` is the conversation: the contact's bare JID, or the room's bare
  JID for group chats; ``room`` is set (to the same room JID) exactly for group chats and
  ``nick`` is then the occupant's nickname. ``omemo_version`` is '0.3', '2' or NULL for
  plaintext; ``trust`` is the sender device's `TrustLevel` value at receipt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tui_omemo.store.errors import SchemaTooNew
from tui_omemo.store.sql import Connection


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: the statements that take ``user_version`` to `version`."""

    version: int
    description: str
    statements: tuple[str, ...]


_V1 = (
    """CREATE TABLE account (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        jid TEXT NOT NULL,
        server_host TEXT,
        server_port INTEGER CHECK (server_port BETWEEN 1 AND 65535),
        password TEXT,
        allow_plaintext_loopback INTEGER NOT NULL DEFAULT 0
            CHECK (allow_plaintext_loopback IN (0, 1)),
        created_at INTEGER NOT NULL
    )""",
    """CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL CHECK (json_valid(value))
    ) WITHOUT ROWID""",
    """CREATE TABLE roster (
        bare_jid TEXT PRIMARY KEY,
        name TEXT,
        subscription TEXT NOT NULL,
        groups TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(groups))
    ) WITHOUT ROWID""",
    """CREATE TABLE omemo_state (
        key TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        value TEXT NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE devices (
        namespace TEXT NOT NULL,
        bare_jid TEXT NOT NULL,
        device_id INTEGER NOT NULL CHECK (device_id BETWEEN 1 AND 2147483647),
        label TEXT,
        active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        last_message INTEGER,
        PRIMARY KEY (namespace, bare_jid, device_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE identities (
        bare_jid TEXT NOT NULL,
        device_id INTEGER NOT NULL,
        identity_key BLOB NOT NULL,
        trust TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        decided_at INTEGER,
        PRIMARY KEY (bare_jid, device_id, identity_key)
    ) WITHOUT ROWID""",
    """CREATE TABLE trust_history (
        id INTEGER PRIMARY KEY,
        bare_jid TEXT NOT NULL,
        device_id INTEGER NOT NULL,
        identity_key BLOB NOT NULL,
        old_trust TEXT,
        new_trust TEXT NOT NULL,
        changed_at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        reason TEXT
    )""",
    "CREATE INDEX trust_history_device ON trust_history (bare_jid, device_id, changed_at)",
    """CREATE TABLE inbox (
        id INTEGER PRIMARY KEY,
        received_at INTEGER NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('live', 'carbon', 'mam', 'offline')),
        stanza BLOB NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    )""",
    """CREATE TABLE archive (
        id INTEGER PRIMARY KEY,
        peer TEXT NOT NULL,
        room TEXT,
        nick TEXT,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        sender_bare_jid TEXT NOT NULL,
        sender_device INTEGER,
        trust TEXT,
        omemo_version TEXT CHECK (omemo_version IN ('0.3', '2')),
        stanza_id TEXT,
        origin_id TEXT,
        message_id TEXT,
        timestamp INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        body TEXT NOT NULL,
        flags TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(flags))
    )""",
    "CREATE INDEX archive_peer_time ON archive (peer, timestamp, id)",
    # Lets search order its matches by time from small index pages instead of whole rows.
    "CREATE INDEX archive_search_order ON archive (id, timestamp, peer)",
    """CREATE VIRTUAL TABLE archive_fts USING fts5(
        body, content='archive', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER archive_fts_insert AFTER INSERT ON archive BEGIN
        INSERT INTO archive_fts (rowid, body) VALUES (new.id, new.body);
    END""",
    """CREATE TRIGGER archive_fts_delete AFTER DELETE ON archive BEGIN
        INSERT INTO archive_fts (archive_fts, rowid, body) VALUES ('delete', old.id, old.body);
    END""",
    """CREATE TRIGGER archive_fts_update AFTER UPDATE OF body ON archive BEGIN
        INSERT INTO archive_fts (archive_fts, rowid, body) VALUES ('delete', old.id, old.body);
        INSERT INTO archive_fts (rowid, body) VALUES (new.id, new.body);
    END""",
    """CREATE TABLE dedupe (
        key TEXT PRIMARY KEY,
        archive_id INTEGER NOT NULL REFERENCES archive (id) ON DELETE CASCADE
    ) WITHOUT ROWID""",
    "CREATE INDEX dedupe_archive ON dedupe (archive_id)",
    """CREATE TABLE security_events (
        id INTEGER PRIMARY KEY,
        occurred_at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        peer TEXT,
        device_id INTEGER,
        detail TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
    )""",
    "CREATE INDEX security_events_time ON security_events (occurred_at)",
)

# Outgoing messages archived but not yet confirmed by the server: the stanza exactly as
# encrypted (the sending chains already advanced), resent on reconnect and at start-up.
_V2 = (
    """CREATE TABLE outbox (
        archive_id INTEGER PRIMARY KEY REFERENCES archive (id) ON DELETE CASCADE,
        queued_at INTEGER NOT NULL,
        stanza BLOB NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0
    )""",
)

# Fewer pages written per commit (benchmarks/store.py, "received message" case):
# - ``omemo_state`` becomes a rowid table. As WITHOUT ROWID, a row keeps at most ~1,000 bytes
#   in its b-tree page and a session (1–3 KB of JSON) spills into an overflow page, so every
#   session update wrote two pages; a rowid table keeps the whole row in one leaf. The old
#   table is dropped after the copy with ``secure_delete`` on (set before migrating), so its
#   pages, old key material included, are zeroed as they are freed.
# - ``archive_fts`` drops its per-message ``docsize`` row (``columnsize=0``): one b-tree
#   fewer to write per archived message. Nothing ranks by bm25; snippet() tokenises the few
#   bodies it shows instead of reading their sizes. The index is rebuilt from ``archive``.
_V3 = (
    """CREATE TABLE omemo_state_v3 (
        key TEXT NOT NULL PRIMARY KEY,
        version INTEGER NOT NULL,
        value TEXT NOT NULL
    )""",
    "INSERT INTO omemo_state_v3 (key, version, value) "
    "SELECT key, version, value FROM omemo_state ORDER BY key",
    "DROP TABLE omemo_state",
    "ALTER TABLE omemo_state_v3 RENAME TO omemo_state",
    "DROP TABLE archive_fts",
    """CREATE VIRTUAL TABLE archive_fts USING fts5(
        body, content='archive', content_rowid='id', tokenize='unicode61 remove_diacritics 2',
        columnsize=0
    )""",
    "INSERT INTO archive_fts (archive_fts) VALUES ('rebuild')",
)

# ``dedupe`` without its foreign key and the ``dedupe_archive`` index that only served the
# cascade: one b-tree fewer to write per archived message. `Archive.delete_conversation`
# deletes a conversation's keys itself, in one pass over ``dedupe`` (faster than the
# cascade's index lookup per deleted row: 1.5 s instead of 2.6 s for 10,000 of 100,000).
_V4 = (
    """CREATE TABLE dedupe_v4 (
        key TEXT NOT NULL PRIMARY KEY,
        archive_id INTEGER NOT NULL
    ) WITHOUT ROWID""",
    "INSERT INTO dedupe_v4 (key, archive_id) SELECT key, archive_id FROM dedupe ORDER BY key",
    "DROP TABLE dedupe",
    "ALTER TABLE dedupe_v4 RENAME TO dedupe",
)

# Conversations in the order this client sent or first received each message (issue 11):
# ``seq`` is the arrival position (the new row's id) for what is sent or received live; a
# message fetched by catch-up (server or delay stamp) takes the position of the message it
# follows by that stamp (`Archive.append`). Paging and search order by (seq, id); existing
# messages keep their arrival order.
_V5 = (
    "ALTER TABLE archive ADD COLUMN seq INTEGER NOT NULL DEFAULT 0",
    "UPDATE archive SET seq = id",
    "DROP INDEX archive_peer_time",
    "CREATE INDEX archive_peer_seq ON archive (peer, seq, id, timestamp)",
    "DROP INDEX archive_search_order",
    "CREATE INDEX archive_search_order ON archive (id, seq, timestamp, peer)",
)

# File messages (issue 18). Search never indexes or shows a file's key: ``search_text``
# (NULL: the body) holds what search sees instead of the body (a file message's name, a text
# with its ``aesgcm://`` fragments cut off), set by `Archive.append`; the FTS index reads the
# ``archive_search`` view. Rows archived before this step get the last path segment of a
# body that starts with a link (not percent-decoded). ``saved_files``: where a file message
# was downloaded to, with the size and SHA-256 of what was saved (`store.saved_files`).
_V6 = (
    "ALTER TABLE archive ADD COLUMN search_text TEXT",
    """WITH RECURSIVE cut (id, rest) AS (
        SELECT id, substr(body, 10, instr(body, '#') - 10) FROM archive
        WHERE body LIKE 'aesgcm://%' AND instr(body, '#') > 10
        UNION ALL SELECT id, substr(rest, instr(rest, '/') + 1) FROM cut WHERE instr(rest, '/')
    )
    UPDATE archive SET search_text = (
        SELECT rest FROM cut WHERE cut.id = archive.id AND instr(rest, '/') = 0
    ) WHERE id IN (SELECT id FROM cut)""",
    "UPDATE archive SET search_text = '' WHERE search_text IS NULL AND body LIKE '%aesgcm://%'",
    "DROP TRIGGER archive_fts_insert",
    "DROP TRIGGER archive_fts_delete",
    "DROP TRIGGER archive_fts_update",
    "DROP TABLE archive_fts",
    "CREATE VIEW archive_search AS SELECT id, COALESCE(search_text, body) AS body FROM archive",
    """CREATE VIRTUAL TABLE archive_fts USING fts5(
        body, content='archive_search', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2', columnsize=0
    )""",
    """CREATE TRIGGER archive_fts_insert AFTER INSERT ON archive BEGIN
        INSERT INTO archive_fts (rowid, body)
        VALUES (new.id, COALESCE(new.search_text, new.body));
    END""",
    """CREATE TRIGGER archive_fts_delete AFTER DELETE ON archive BEGIN
        INSERT INTO archive_fts (archive_fts, rowid, body)
        VALUES ('delete', old.id, COALESCE(old.search_text, old.body));
    END""",
    """CREATE TRIGGER archive_fts_update AFTER UPDATE OF body, search_text ON archive BEGIN
        INSERT INTO archive_fts (archive_fts, rowid, body)
        VALUES ('delete', old.id, COALESCE(old.search_text, old.body));
        INSERT INTO archive_fts (rowid, body)
        VALUES (new.id, COALESCE(new.search_text, new.body));
    END""",
    "INSERT INTO archive_fts (archive_fts) VALUES ('rebuild')",
    """CREATE TABLE saved_files (
        archive_id INTEGER PRIMARY KEY REFERENCES archive (id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        saved_at INTEGER NOT NULL
    )""",
)

#: Every step, in order. Append only.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "account, settings, roster, OMEMO state, devices, trust, inbox, archive", _V1),
    Migration(2, "outbox of sent messages the server has not confirmed", _V2),
    Migration(3, "fewer pages per commit: OMEMO state as a rowid table, FTS without docsize", _V3),
    Migration(4, "fewer pages per commit: dedupe keys without the cascade's index", _V4),
    Migration(5, "arrival order: archive.seq, stamped catch-up placed by its stamp", _V5),
    Migration(6, "file messages: searched by name, never by key; where each was saved", _V6),
)

LATEST_VERSION = MIGRATIONS[-1].version


def user_version(connection: Connection) -> int:
    """The schema version recorded in the database."""
    row = connection.execute("PRAGMA user_version").fetchone()
    return int(row[0]) if row else 0


def migrate(connection: Connection, steps: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply, in order, every step newer than the database's ``user_version``.

    The connection must be in autocommit mode (``isolation_level=None``); each step is one
    ``BEGIN IMMEDIATE … COMMIT``.

    Args:
        connection: an open, keyed connection.
        steps: the steps to consider (tests pass their own list).

    Returns:
        The versions applied, empty when the database was already current.

    Raises:
        SchemaTooNew: the database is newer than the newest step.
    """
    current = user_version(connection)
    latest = steps[-1].version if steps else 0
    if current > latest:
        raise SchemaTooNew(
            f"the database has schema version {current}, this tui-omemo knows up to {latest}: "
            "use a newer tui-omemo"
        )
    applied = []
    for step in steps:
        if step.version > current:
            _apply(connection, step)
            applied.append(step.version)
    return applied


def _apply(connection: Connection, step: Migration) -> None:
    connection.execute("BEGIN IMMEDIATE")
    try:
        for statement in step.statements:
            connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {int(step.version)}")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
