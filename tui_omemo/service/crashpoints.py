"""Crash points for the kill -9 tests: die on the spot where a test asks for it.

`crash_point(name)` ends the process with `os._exit(137)` (what a SIGKILL looks like to the
parent) when the environment variable `TUI_OMEMO_CRASH_AT` equals `name`; otherwise it does
nothing. No cleanup, no flush, no finally blocks run: exactly the crash DESIGN.md §3.1 promises
to survive. The inbound pipeline calls it at `after_inbox_write`, `after_decrypt`,
`before_commit` and `after_commit`; the outbound one at `after_send_commit` (the message is
archived and in the outbox, the stanza has not left).
"""

from __future__ import annotations

import os

ENV_VAR = "TUI_OMEMO_CRASH_AT"
EXIT_CODE = 137

AFTER_INBOX_WRITE = "after_inbox_write"
AFTER_DECRYPT = "after_decrypt"
BEFORE_COMMIT = "before_commit"
AFTER_COMMIT = "after_commit"
AFTER_SEND_COMMIT = "after_send_commit"
NAMES = (AFTER_INBOX_WRITE, AFTER_DECRYPT, BEFORE_COMMIT, AFTER_COMMIT, AFTER_SEND_COMMIT)


def crash_point(name: str) -> None:
    """Exit the process at once with status 137 if `TUI_OMEMO_CRASH_AT` is `name`."""
    if os.environ.get(ENV_VAR) == name:
        os._exit(EXIT_CODE)
