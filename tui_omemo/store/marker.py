"""``profile.json``: the plaintext marker that says how a profile's database is keyed.

It holds no secret: ``{"format": 1, "key_source": "keyring" | "passphrase", "profile_id":
"<32 hex digits>"}``. The profile id is random, made when the profile is created, and names the
profile's OS keyring entry, so a moved profile still finds its key and a new profile created
where a deleted one lived gets a key of its own. Profiles made by older versions have no id:
their keyring entry is named by the profile's path until it is moved under a new id (see
`tui_omemo.store.profile`).
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from tui_omemo.store.errors import ProfileIncomplete
from tui_omemo.store.files import create_private

MARKER_FILENAME = "profile.json"
MARKER_FORMAT = 1
_PROFILE_ID = re.compile(r"[0-9a-f]{32}")


class KeySource(enum.StrEnum):
    """How a profile's database key is obtained."""

    KEYRING = "keyring"
    PASSPHRASE = "passphrase"  # noqa: S105 (a label, not a secret)


@dataclass(frozen=True, slots=True)
class Marker:
    """What ``profile.json`` says: the key source and, unless written by an older version,
    the profile id."""

    source: KeySource
    profile_id: str | None


def new_profile_id() -> str:
    """A fresh random profile id (128 bits, hex)."""
    return secrets.token_hex(16)


def read_marker(directory: Path) -> Marker | None:
    """The profile's marker, or None when there is none.

    Raises:
        ProfileIncomplete: the file is unreadable or holds no valid key source or id.
    """
    path = directory / MARKER_FILENAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        profile_id = data.get("profile_id")
        if profile_id is not None and not _PROFILE_ID.fullmatch(profile_id):
            raise ValueError("malformed profile id")
        return Marker(KeySource(data["key_source"]), profile_id)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ProfileIncomplete(f"{path} is unreadable; it should hold the key source") from error


def write_marker(directory: Path, marker: Marker) -> None:
    """Write ``profile.json`` atomically and owner-only (temporary file, fsync, rename, fsync
    directory)."""
    path = directory / MARKER_FILENAME
    temporary = path.with_suffix(".json.tmp")
    content: dict[str, object] = {"format": MARKER_FORMAT, "key_source": marker.source.value}
    if marker.profile_id is not None:
        content["profile_id"] = marker.profile_id
    fd = create_private(temporary, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(json.dumps(content) + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    fsync_path(directory)


def fsync_path(path: Path) -> None:
    """fsync a file or directory by path (a directory's fsync makes a rename durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # some filesystems refuse fsync on directories
            os.fsync(fd)
    finally:
        os.close(fd)
