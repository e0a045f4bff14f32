"""The exit statuses of `tui-omemo`, one per kind of outcome a script may want to act on.

Documented in `--help` and in the README; tests pin them. Light on purpose (the parser and
every error path read it).
"""

from __future__ import annotations

OK = 0
"""Done."""
FAILURE = 1
"""Anything else that went wrong (one line on stderr says what)."""
USAGE = 2
"""The command line is wrong, or the profile's passphrase is missing."""
NO_DEVICE = 3
"""Nothing was sent: no device of the recipient can receive it (none published, or none
trusted, or all distrusted)."""
AUTH_REFUSED = 4
"""The server refused the account's credentials."""
UNREACHABLE = 5
"""The server could not be reached, or did not answer in time (nothing was queued)."""
QUEUED = 6
"""The message is encrypted and queued, but the server has not confirmed it: the next start
of any command sends it (do not send it again)."""
BUSY = 7
"""The profile is open in another tui-omemo process."""
INTERRUPTED = 130
"""Ctrl-C."""

TABLE = (
    (OK, "done"),
    (FAILURE, "failure (one line on stderr says what)"),
    (USAGE, "usage error, or the passphrase is missing"),
    (NO_DEVICE, "nothing sent: no device can receive it (none, untrusted or distrusted)"),
    (AUTH_REFUSED, "the server refused the login"),
    (UNREACHABLE, "the server is unreachable or timed out"),
    (QUEUED, "queued but not confirmed by the server (sent on the next start; do not resend)"),
    (BUSY, "the profile is busy (open in another tui-omemo)"),
    (INTERRUPTED, "interrupted (Ctrl-C)"),
)
"""Status and meaning, as `--help` and the README list them."""


def help_text() -> str:
    """The exit statuses as a list for `--help`."""
    return "exit status:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in TABLE)
