"""The one JSON schema of every `--json` output (schema 1, documented in the README).

Each line is one object with ``"schema": 1`` and a ``"type"``: ``message``, ``error`` (a
message that could not be decrypted), ``sent``, ``device``, ``trust``, ``setting``, ``room``,
``member``. The same thing has the same key everywhere: ``jid`` is the bare JID an object is
about (a device's owner, a member, a recipient), ``peer`` the conversation (contact or room),
``from`` the sender, ``device`` a device id, ``room``/``nick`` the group fields (null in 1:1).
``encrypted`` is always true or false, ``omemo`` always the version string (``"0.3"``,
``"2"``) or null, ``trust`` one of the words the `trust` flags use (``verified``, ``blind``,
``distrusted``, ``undecided``) or null, times are ISO 8601 UTC with milliseconds, and a value
that is unknown is null, never a missing key. New keys may be added within schema 1; a key is
never renamed or removed without raising the number.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from tui_omemo.model import TrustLevel

VERSION = 1

TRUST_WORDS = {
    TrustLevel.VERIFIED: "verified",
    TrustLevel.BLINDLY_TRUSTED: "blind",
    TrustLevel.DISTRUSTED: "distrusted",
    TrustLevel.UNDECIDED: "undecided",
}
"""Trust levels as the `trust` command's flags name them (--verify, --blind, --distrust,
--undecided)."""


def dump(kind: str, fields: Mapping[str, object]) -> str:
    """One object of type `kind` on one line (``schema`` and ``type`` first)."""
    return json.dumps({"schema": VERSION, "type": kind, **fields}, ensure_ascii=False)


def trust_word(level: TrustLevel | str | None) -> str | None:
    """A trust level (or its stored value) as the flag word; None stays None."""
    if level is None:
        return None
    return TRUST_WORDS[TrustLevel(level)]


def iso_ms(milliseconds: int) -> str:
    """An epoch time in milliseconds as ISO 8601 UTC (`2026-11-26T06:20:01.123+00:00`)."""
    return datetime.fromtimestamp(milliseconds / 1000, UTC).isoformat(timespec="milliseconds")


def iso_time(moment: datetime | None) -> str | None:
    """A datetime as ISO 8601 UTC with milliseconds; None stays None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")
