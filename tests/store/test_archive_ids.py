"""Archive ids are what `listen` resumes from (service/listen_cursor.py) and what
`history --after` pages by: a message archived after another must get a larger id.

The archive table has a plain INTEGER PRIMARY KEY (no AUTOINCREMENT), so SQLite gives a new
row the largest id + 1: once the newest rows are deleted, their ids are handed out again and a
resumed `listen` whose cursor sits on such an id would skip the new messages. That is safe
only as long as nothing in the application deletes archive rows; this module shows the
hazard and pins that rule, so a future history-deletion feature meets it here first (it then
needs a schema step that makes ids monotonic, e.g. AUTOINCREMENT, with its migration test).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.store.test_archive import BOB, CAROL, message
from tui_omemo.store import Database

PACKAGE = Path(__file__).resolve().parents[2] / "tui_omemo"
ARCHIVE_STORE = PACKAGE / "store" / "archive.py"
DELETES = re.compile(r"delete_conversation\s*\(|DELETE\s+FROM\s+archive\b", re.IGNORECASE)


def test_ids_of_deleted_newest_rows_come_back(db: Database) -> None:
    """The hazard: deleting the conversation that holds the newest row lets the next message
    take that row's id again (if the schema gains AUTOINCREMENT, this fails: drop the rule
    below with it)."""
    with db.unit_of_work() as uow:
        uow.archive.append(message(1, peer=CAROL))
        newest = uow.archive.append(message(2))
        uow.archive.delete_conversation(BOB)
        assert uow.archive.append(message(3)) == newest


def test_no_production_code_deletes_archive_rows() -> None:
    """The rule that keeps `listen` cursors sound: outside the store's own `Archive`, nothing
    in `tui_omemo` deletes archive rows (no history deletion, no retention)."""
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path != ARCHIVE_STORE and DELETES.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
